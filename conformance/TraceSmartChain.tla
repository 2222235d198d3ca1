--------------------------- MODULE TraceSmartChain ---------------------------
(***************************************************************************)
(* Trace validation: implementation -> spec.                               *)
(*                                                                         *)
(* One simulator run's trace (conformance/TRACE.md) is read from the       *)
(* ndjson file named by the environment variable TRACE_FILE, and the run's *)
(* description (n, the Byzantine replicas) from the JSON file named by     *)
(* TRACE_META.  TLC explores the behaviours of SmartChain (spec/) in which *)
(* the i-th state change is the spec action named by the i-th event, taken *)
(* with the event's parameters (replica, cid, regency, batch, ...), and    *)
(* whose post-state agrees with the fields the event logged.  The trace is *)
(* accepted when some behaviour matches every event (the POSTCONDITION     *)
(* TraceAccepted); otherwise TraceAccepted prints the first event that no  *)
(* behaviour could match and fails.                                        *)
(*                                                                         *)
(* Mappings between the implementation and the spec:                       *)
(*  - Replicas: the trace numbers members 0..n-1, the spec 1..n: R(i).     *)
(*    Leader order is kept (members[e mod n] is the member of rank e).     *)
(*  - Byzantine replicas are the adversary: their events are dropped and   *)
(*    the spec's adversary (Network.tla) stands for whatever they sent.    *)
(*  - Transactions: the transaction (client, txSeq) of a Submit event is   *)
(*    the spec's ClientTx(TxId[key]).                                      *)
(*  - Batches: an event carries a batch's hash, not its transactions, so   *)
(*    the batch with hash h is the spec batch {ClientTx(BatchId[h])}: one  *)
(*    abstract request per distinct batch.  It is submitted (the spec's    *)
(*    Submit, a client action) just before the first event that needs it. *)
(*    Distinct hashes stay distinct batches; the transaction-level checks  *)
(*    (no transaction twice) are the simulator's Validity checker's job.   *)
(*  - The config overrides ValidBatches and AdvBatches by their            *)
(*    restriction to the batches of the trace: the spec chooses among all  *)
(*    subsets of pending requests, and the one the implementation chose is *)
(*    always among the trace's batches.                                    *)
(*  - A Resume that writes the SYNC's value is followed in the trace by    *)
(*    that Write event; the spec's Resume performs the write itself, so    *)
(*    the Write event then checks that the write is there (owed).          *)
(*  - A replica that resumes a SYNC for a cid it has not reached yet keeps *)
(*    the value until it catches up; the spec resumes once it has caught   *)
(*    up.  The event is recorded (deferred) and the spec's Resume is taken *)
(*    as a step of its own as soon as it is enabled.                       *)
(*  - Persistence: the run's mode is the spec's Mode; heights are cids.   *)
(*    A replica whose disk the simulator wiped or corrupted is outside the *)
(*    crash model (synced data lost): the description lists it with the    *)
(*    Byzantine replicas, so the adversary stands for it.  Crash and       *)
(*    CrashAll events also check what the crash keeps (dur, wrote, certH), *)
(*    Restart what came back.  A Checkpoint event names the checkpoint     *)
(*    height a completed sync made durable (block and snapshot); the       *)
(*    interval K is the run's, from TRACE_META.  A replica that restarts   *)
(*    with decided instances in its consensus record logs them             *)
(*    (StateTransfer, via "record") before its Restart event; the spec's   *)
(*    Restart is taken first (early), the Restart event then checks it     *)
(*    happened.                                                            *)
(*  - A block written again with another decision proof (strong mode,     *)
(*    PersistBlock with rewrite) is the same block at the spec's level: a  *)
(*    batch prefix, so no spec step; the implementation cuts it from       *)
(*    durable storage and syncs it again (its SyncBlocks event from below  *)
(*    dur) and may COMMIT it again (the same spec message).                *)
(*  - Reconfiguration runs: replica ids stay with a replica across views;  *)
(*    the description lists the genesis members, the joiners, leavers and  *)
(*    eviction targets, and each decided batch's membership requests,      *)
(*    which join the batch's abstract request so that ViewAfter computes   *)
(*    the implementation's views.  A joiner's catch-up by state transfer   *)
(*    before its first InstallView has no events: the spec takes those    *)
(*    steps first (JoinerCatchUp).                                         *)
(*  - A client's AcceptReply names its transaction, which the batch        *)
(*    abstraction does not place in a block: it is matched by the spec's   *)
(*    AcceptReply of the batch at the accepted height (the request that    *)
(*    stands for it), once per batch.                                      *)
(***************************************************************************)
EXTENDS SmartChain, TLC, Json, IOUtils

VARIABLES
    l,          \* the index of the next trace event to match
    owed,       \* <<replica, cid, regency, hash>>: a Resume wrote it, its Write event is due
    deferred,   \* deferred[r]: a Resume event of r ahead of its open cid, or a record with cid = 0
    early,      \* early[r]: the index of r's Restart event when the spec's Restart was taken before it (0: none)
    redo        \* redo[r]: the height r wrote again while it was synced; its sync is due (0: none)

traceVars == <<l, owed, deferred, early, redo>>

-----------------------------------------------------------------------------
(* The run. *)
Meta == JsonDeserialize(IOEnv.TRACE_META)
RawLog == ndJsonDeserialize(IOEnv.TRACE_FILE)

R(i) == i + 1
TraceReplicas == 1..Meta.n
(* The adversary: the Byzantine replicas, and those whose synced storage was *)
(* lost (a wiped or corrupted disk is a fault beyond the crash model).       *)
TraceByzantine == {R(Meta.byzantine[i]) : i \in DOMAIN Meta.byzantine}
                  \cup {R(Meta.amnesia[i]) : i \in DOMAIN Meta.amnesia}
(* The persistence mode; a run without blocks ("off") is matched as weak.   *)
TraceMode == IF Meta.mode \in {"memory", "weak", "strong"} THEN Meta.mode ELSE "weak"

(* Events of the adversary are dropped; a full crash and a client's        *)
(* acceptance are not the named replica's own actions, and are kept.       *)
Kept(e) == e.action \in {"CrashAll", "AcceptReply"} \/ R(e.replica) \notin TraceByzantine
TraceLog == TLCEval(SelectSeq(RawLog, Kept))
Ev == TraceLog[l]

HasField(e, f) == f \in DOMAIN e

TxKey(e) == e.client \o ":" \o e.txSeq
TxKeys == LET log == TraceLog IN
          {TxKey(log[i]) : i \in {j \in DOMAIN log : log[j].action = "Submit"}}
BatchHashes == LET log == TraceLog IN
               {log[i].batchHash : i \in {j \in DOMAIN log : HasField(log[j], "batchHash")}}

(* Request ids: a transaction is numbered by its first Submit event, a     *)
(* batch by its first event plus Len(TraceLog), so the two never clash.    *)
TxId == LET log == TraceLog IN
        [k \in TxKeys |-> MinOf({i \in DOMAIN log : log[i].action = "Submit" /\ TxKey(log[i]) = k})]
BatchId == LET log == TraceLog IN
           [h \in BatchHashes |->
              Len(log) + MinOf({i \in DOMAIN log : HasField(log[i], "batchHash") /\ log[i].batchHash = h})]
(* Reconfiguration runs: the description lists the membership requests of *)
(* each decided batch (by hash; replica ids 0-based), Base.tla's records.   *)
HasMeta(f) == f \in DOMAIN Meta
MetaSet(f) == IF HasMeta(f) THEN {R(Meta[f][i]) : i \in DOMAIN Meta[f]} ELSE {}
Req(x) == [k |-> x.k, id |-> IF x.k = "remove" THEN R(x.id) ELSE 0, r |-> R(x.r), v |-> x.v]
MemberReqs(h) == IF HasMeta("batches") /\ h \in DOMAIN Meta.batches
                 THEN {Req(Meta.batches[h][i]) : i \in DOMAIN Meta.batches[h]}
                 ELSE {}
BatchOf == TLCEval([h \in BatchHashes |-> {ClientTx(BatchId[h])} \cup MemberReqs(h)])
B(h) == BatchOf[h]
TraceBatches == {B(h) : h \in BatchHashes}

TraceTxs == {TxId[k] : k \in TxKeys} \cup {BatchId[h] : h \in BatchHashes}

Max2(a, b) == IF a >= b THEN a ELSE b
FieldMax(f) == LET log == TraceLog
                   vals == {log[i][f] : i \in {j \in DOMAIN log : HasField(log[j], f)}}
               IN IF vals = {} THEN 0 ELSE MaxOf(vals)
TraceMaxHeight == Max2(1, FieldMax("cid"))
TraceMaxRegency == FieldMax("regency")
(* The run's checkpoint interval K (a description without it: none taken). *)
TraceCheckpointInterval == IF "checkpointInterval" \in DOMAIN Meta /\ Meta.checkpointInterval > 0
                           THEN Meta.checkpointInterval ELSE 100
(* Reconfiguration runs: genesis members, the admission allow-list, the   *)
(* members that ask to leave or that others ask to evict, the rotation     *)
(* window; other runs have a fixed membership.                             *)
TraceMembers == IF HasMeta("members") THEN 1..Meta.members ELSE TraceReplicas
TraceJoiners == MetaSet("joiners")
TraceLeavers == MetaSet("leavers")
TraceRemovable == MetaSet("removable")
TraceRotationWindow == IF HasMeta("rotationWindow") THEN Meta.rotationWindow ELSE 1
TraceBatchMax == 1 + (IF BatchHashes = {} THEN 0 ELSE MaxOf({Cardinality(MemberReqs(h)) : h \in BatchHashes}))
TraceMaxCrashes == LET log == TraceLog IN
                   Cardinality({i \in DOMAIN log : log[i].action \in {"Crash", "CrashAll"}})

(* Definition overrides (see the config): the spec's choices of batches,   *)
(* restricted to the batches the trace shows.                              *)
TraceValidBatches(r) == {b \in TraceBatches : b \subseteq Pending(r) /\ Cardinality(b) <= BatchMax}
TraceAdvBatches == TraceBatches

-----------------------------------------------------------------------------
(* Matching one event. *)
P == R(Ev.replica)
EvBatch == B(Ev.batchHash)
Members(s) == {R(s[i]) : i \in DOMAIN s}

NoDeferral == [cid |-> 0, regency |-> 0, batchHash |-> "", leader |-> 0]

(* r has restarted before the current event. *)
Restarted(r) == LET log == TraceLog IN
                \E k \in 1..(l - 1) : log[k].action = "Restart" /\ R(log[k].replica) = r

MatchSubmit ==
    LET i == TxId[TxKey(Ev)] IN
    IF ClientTx(i) \notin submitted THEN Submit(i) ELSE UNCHANGED vars

MatchPropose ==
    LET V == CurView(P) IN
    /\ Open(P) = Ev.cid /\ reg[P] = Ev.regency
    /\ Propose(P)
    /\ ProposeMsg(P, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs'

MatchWrite ==
    LET V == CurView(P)
        key == <<P, Ev.cid, Ev.regency, Ev.batchHash>>
    IN /\ Leader(V, Ev.regency) = R(Ev.leader)
       /\ \/ /\ key \notin owed
             /\ Open(P) = Ev.cid /\ reg[P] = Ev.regency
             /\ Write(P)
             /\ WriteMsg(P, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs'
          \/ /\ key \in owed
             /\ WriteMsg(P, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs
             /\ <<Ev.regency, EvBatch>> \in wset[P][Ev.cid]
             /\ UNCHANGED vars
          \/ (* a restarted replica writes again what its record kept it wrote: *)
             (* the same WRITE, already in msgs and in its write set            *)
             /\ key \notin owed /\ Restarted(P)
             /\ Open(P) = Ev.cid /\ reg[P] = Ev.regency
             /\ WriteMsg(P, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs
             /\ <<Ev.regency, EvBatch>> \in wset[P][Ev.cid]
             /\ UNCHANGED vars

MatchAccept ==
    LET V == CurView(P)
        writers == Members(Ev.writers)
    IN /\ Open(P) = Ev.cid /\ reg[P] = Ev.regency
       /\ Cardinality(writers) >= Q(V)
       /\ \A w \in writers : WriteMsg(w, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs \/ w \in AdvIds
       /\ Accept(P)
       /\ vote'[P][Ev.cid] = [ts |-> Ev.regency, b |-> EvBatch]

MatchDecide ==
    LET V == CurView(P)
        signers == Members(Ev.signers)
    IN /\ Open(P) = Ev.cid
       /\ Cardinality(signers) >= Q(V)
       /\ \A s \in signers : AcceptMsg(s, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs \/ AdvHolds(s, V.id)
       /\ AcceptQuorum(V, Ev.cid, Ev.regency, EvBatch)
       /\ Decide(P)
       /\ chain'[P] = Append(chain[P], EvBatch)

(* A replica that restarts has forgotten the regency it asked for (only   *)
(* its installed regency is durable) and may ask again: the same STOP,    *)
(* already in msgs, so no spec step.                                       *)
MatchStop ==
    /\ \/ Ev.from = reg[P]
       \/ deferred[P].cid > 0 /\ Ev.from = deferred[P].regency
    /\ Ev.regency > reg[P] /\ Ev.cid = Open(P)
    /\ IF StopMsg(P, CurView(P).id, Ev.regency) \in msgs
       THEN /\ Restarted(P) /\ OperatingIn(P, CurView(P))
            /\ UNCHANGED vars
       ELSE /\ Stop(P)
            /\ StopMsg(P, CurView(P).id, Ev.regency) \in msgs'

MatchStopData ==
    LET V == CurView(P) IN
    /\ Ev.regency > reg[P]
    /\ Ev.cid = Open(P) /\ Ev.lastDecided = Open(P) - 1
    /\ Ev.accepted = vote[P][Open(P)].ts
    /\ Leader(V, Ev.regency) = R(Ev.leader)
    /\ Cardinality(Members(Ev.stoppers)) >= Q(V)
    /\ \A s \in Members(Ev.stoppers) : StopMsg(s, V.id, Ev.regency) \in msgs \/ s \in AdvIds
    /\ StopData(P)
    /\ reg'[P] = Ev.regency

MatchSync ==
    LET V == CurView(P) IN
    /\ reg[P] = Ev.regency
    /\ Sync(P)
    /\ SyncMsg(P, V.id, Ev.regency, Ev.cid, EvBatch, Ev.bound) \in msgs'

(* The SYNC the event names is one r can receive. *)
Offered(V) == \E o \in SyncOffers(V, Ev.regency) : o[1] = Ev.cid /\ o[2] = EvBatch

MatchResume ==
    LET V == CurView(P)
        key == <<P, Ev.cid, Ev.regency, Ev.batchHash>>
    IN /\ reg[P] <= Ev.regency
       /\ Leader(V, Ev.regency) = R(Ev.leader)
       /\ Offered(V)
       /\ \/ /\ Open(P) = Ev.cid
             /\ Resume(P)
             /\ reg'[P] = Ev.regency
             /\ WriteMsg(P, V.id, Ev.cid, Ev.regency, EvBatch) \in msgs'
             /\ owed' = owed \cup {key}
             /\ UNCHANGED deferred
          \/ /\ Open(P) > Ev.cid
             /\ Resume(P)
             /\ reg'[P] = Ev.regency
             /\ UNCHANGED <<owed, deferred>>
          \/ /\ Open(P) < Ev.cid
             /\ deferred' = [deferred EXCEPT ![P] = [cid |-> Ev.cid, regency |-> Ev.regency,
                                                      batchHash |-> Ev.batchHash, leader |-> Ev.leader]]
             /\ UNCHANGED <<vars, owed>>

-----------------------------------------------------------------------------
(* Three things the implementation does that spec/ does not allow; each is *)
(* listed in conformance/README.md as a change the spec needs.  They are   *)
(* on unless the environment sets TRACE_STRICT=1 (scripts/validate-traces.ts *)
(* --strict), which validates against spec/ exactly as it stands.          *)
(*                                                                         *)
(* 1. A Byzantine member that holds a decision proof for a cid above the   *)
(*    highest last decided cid of the correct members' STOPDATA (q         *)
(*    ACCEPTs: correct members' in msgs and its own signature) reports it  *)
(*    as its last decided cid; the spec's StopDataSetsFrom lets adversary  *)
(*    members report only the correct members' highest.  The override      *)
(*    below (see the config) lets them report any such cid as well.        *)
(* 2. Weak and strong mode: a replica that decided block c and has not     *)
(*    written it yet signs ACCEPT(c, e, b) again on every retransmission,  *)
(*    with e the regency of its decision proof (src/persistence/pipeline.ts, *)
(*    retransmitDecidedAccepts), also when it never accepted in cid c      *)
(*    itself (it took the decision from q ACCEPTs of others, or by state   *)
(*    transfer); peers use it for the canonical proof and, if still open   *)
(*    in c, to decide.  It is taken as a step of its own (LateAccept), only *)
(*    when the current event counts such an ACCEPT, and only for a batch   *)
(*    with q ACCEPTs at e already (b is decided at e, so no other value    *)
(*    can gain from it).                                                   *)
(* 3. Reconfiguration: a Byzantine member submits ROTATE for the next view *)
(*    once a change is decided, as correct members do; the spec's Rotate   *)
(*    takes the view from the requester's own chain, and the spec never    *)
(*    extends a Byzantine replica's chain, so it never enables Rotate for  *)
(*    one after genesis.  AdvRequest (below) submits such a ROTATE when    *)
(*    the batch of the next event carries it, for the view the event's    *)
(*    replica is in.                                                       *)

Gaps == ~("TRACE_STRICT" \in DOMAIN IOEnv /\ IOEnv.TRACE_STRICT = "1")

TraceStopDataSetsFrom(V, e, honest) ==
    LET advMem == {m \in V.mem : AdvHolds(m, V.id)}
        hsets == {H \in SUBSET honest : \A x, y \in H : x.from = y.from => x = y}
        hmax(H) == IF H = {} THEN 0 ELSE MaxOf({s.ld : s \in H})
        proven(c) == \E t \in Regencies, b \in AcceptedBatches(V, c) : AcceptQuorum(V, c, t, b)
        lds(H) == {hmax(H)} \cup (IF Gaps THEN {c \in (hmax(H) + 1)..MaxHeight : proven(c)} ELSE {})
        adv(H) == UNION {UNION {{{StopDataMsg(a, V.id, e, ld, g[a].ts, g[a].b, g[a].ws) : a \in D} :
                                    g \in [D -> AdvStates(V, e, ld + 1)]} :
                                 D \in SUBSET (advMem \ {s.from : s \in H})} : ld \in lds(H)}
    IN {S \in UNION {{H \cup A : A \in adv(H)} : H \in hsets} : Cardinality(S) >= Q(V)}

(* The current event (a Decide) counts an ACCEPT of r for (c, t, b). *)
CountsAccept(r, c, t, b) ==
    /\ Ev.cid = c /\ Ev.regency = t /\ EvBatch = b
    /\ r \in Members(Ev.signers) /\ r # P

LateAccept ==
    /\ Gaps
    /\ Ev.action = "Decide"
    /\ \E r \in Replicas \ Byzantine :
       LET c == Ev.cid
           t == Ev.regency
       IN /\ up[r] /\ wrote[r] < c /\ c <= Len(chain[r])
          /\ LET V == ViewAt(chain[r], c)
                 b == chain[r][c]
             IN /\ CountsAccept(r, c, t, b)
                /\ AcceptMsg(r, V.id, c, t, b) \notin msgs
                /\ AcceptQuorum(V, c, t, b)
                /\ msgs' = msgs \cup {AcceptMsg(r, V.id, c, t, b)}
          /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst, traceVars>>

(* A decided instance taken with its proof: from a peer or a STOPDATA, or *)
(* (via "record") from the replica's own consensus record after a restart, *)
(* where it is the replica's own decision: it holds the q ACCEPTs, which   *)
(* is the spec's Decide.                                                   *)
MatchStateTransfer ==
    /\ Open(P) = Ev.cid
    /\ Certified(chain[P], Ev.cid, EvBatch)
    /\ \/ StateTransfer(P)
       \/ Ev.via = "record" /\ Decide(P)
    /\ chain'[P] = Append(chain[P], EvBatch)


-----------------------------------------------------------------------------
(* Persistence events. *)

(* The request that stands for batch b (one per batch, see above). *)
ReqOf(b) == (CHOOSE x \in b : x.k = "tx").id

MatchPersistBlock ==
    IF HasField(Ev, "rewrite") /\ Ev.rewrite
    THEN (* the last written block, not yet certified, again with another proof *)
         /\ Ev.height = wrote[P] /\ certH[P] < Ev.height
         /\ redo' = [redo EXCEPT ![P] = IF dur[P] >= Ev.height THEN Ev.height ELSE 0]
         /\ UNCHANGED vars
    ELSE /\ wrote[P] = Ev.height - 1
         /\ PersistBlock(P)
         /\ UNCHANGED redo

MatchSyncBlocks ==
    IF Ev.from < dur[P]
    THEN (* the sync of a block written again below dur *)
         /\ redo[P] = Ev.from + 1
         /\ Ev.height = wrote[P]
         /\ IF dur[P] < wrote[P] THEN SyncBlocks(P) ELSE UNCHANGED vars
         /\ redo' = [redo EXCEPT ![P] = 0]
    ELSE /\ Ev.from = dur[P] /\ Ev.height = wrote[P]
         /\ SyncBlocks(P)
         /\ redo' = [redo EXCEPT ![P] = IF redo[P] > 0 /\ dur'[P] >= redo[P] THEN 0 ELSE redo[P]]

MatchCommit ==
    LET h == Ev.height
        m == CommitMsg(P, ViewAt(chain[P], h).id, h, Prefix(chain[P], h))
    IN /\ h <= dur[P]
       /\ \/ /\ Commit(P)
             /\ m \in msgs'
          \/ (* the same COMMIT again: after a restart, or a block written again *)
             /\ Mode = "strong" /\ up[P]
             /\ m \in msgs
             /\ UNCHANGED vars

MatchCertify ==
    LET h == Ev.height
        V == ViewAt(chain[P], h)
        signers == Members(Ev.signers)
    IN /\ certH[P] = h - 1
       /\ Cardinality(signers) >= Q(V)
       /\ \A s \in signers : CommitMsg(s, V.id, h, Prefix(chain[P], h)) \in msgs \/ AdvHolds(s, V.id)
       /\ Certify(P)

(* The replies of heights from..height, as the spec's REPLY messages. *)
RepliesOf(r, from, to) ==
    {ReplyMsg(r, ReqOf(chain[r][h]), h, Prefix(chain[r], h)) : h \in from..to}

MatchReleaseReply ==
    /\ Ev.mode = Mode
    /\ 1 <= Ev.from /\ Ev.from <= Ev.height /\ Ev.height <= Len(chain[P])
    /\ Releasable(P, Ev.height)
    /\ IF DueReplies(P) = {}
       THEN (* every one of them was released before the replica crashed *)
            /\ up[P] /\ ~left[P]
            /\ RepliesOf(P, Ev.from, Ev.height) \subseteq msgs
            /\ UNCHANGED vars
       ELSE /\ ReleaseReply(P)
            /\ RepliesOf(P, Ev.from, Ev.height) \subseteq msgs'

(* The client accepts the result at Ev.height: the spec's client of the   *)
(* batch there accepts it, from replies (or a certificate) in msgs.       *)
MatchAcceptReply ==
    \E m \in {x \in msgs : x.type \in {"REPLY", "COMMIT"} /\ x.h = Ev.height} :
       LET i == ReqOf(m.blk[Ev.height]) IN
       /\ ClientAccepts(i, Ev.height, m.blk)
       /\ IF \E a \in accepted : a.t = i
          THEN UNCHANGED vars
          ELSE /\ AcceptReply(i)
               /\ [t |-> i, h |-> Ev.height, blk |-> m.blk] \in accepted'

-----------------------------------------------------------------------------
(* Reconfiguration events.  A request submitted again (a JOIN refused and   *)
(* sent again, a ROTATE sent again) is the same spec request: no step.     *)
(* A joiner's RequestJoin names it by its label before admission; its     *)
(* identity key gives the id it was admitted with (TRACE_META joinerIds).  *)
Joiner == IF HasMeta("joinerIds") /\ Ev.identityKey \in DOMAIN Meta.joinerIds
          THEN R(Meta.joinerIds[Ev.identityKey]) ELSE P
MatchRequestJoin == IF JoinReq(Joiner) \in submitted THEN UNCHANGED vars ELSE RequestJoin(Joiner)
MatchRequestLeave == IF LeaveReq(P) \in submitted THEN UNCHANGED vars ELSE RequestLeave(P)
MatchRequestRemove ==
    LET t == R(Ev.target) IN
    IF RemoveReq(P, t) \in submitted THEN UNCHANGED vars ELSE RequestRemove(P, t)
MatchRotate ==
    /\ Ev.view = CurView(P).id + 1
    /\ IF RotateReq(P, Ev.view) \in submitted THEN UNCHANGED vars ELSE Rotate(P)
MatchInstallView ==
    /\ InstallView(P)
    /\ view'[P] = Ev.view
    /\ left'[P] = Ev.left
    /\ {R(Ev.members[i]) : i \in DOMAIN Ev.members} = ViewAfter(Prefix(chain[P], dur[P])).mem
MatchEraseKeys ==
    /\ {v \in keys[P] : v < view[P]} = {Ev.views[i] : i \in DOMAIN Ev.views}
    /\ EraseKeys(P)

(* A joiner fetches the chain (and in strong mode the last certificate) by *)
(* state transfer and stores it before it installs its first view; the    *)
(* trace has no events for that (the joiner's core starts from its store), *)
(* so the spec takes those steps first.                                    *)
JoinerCatchUp ==
    /\ Ev.action = "InstallView" /\ ~Ev.left
    /\ R(Ev.replica) \notin TraceByzantine
    /\ view[P] = -1
    /\ \/ StateTransfer(P) /\ ViewAfter(chain'[P]).id <= Ev.view
       \/ PersistBlock(P)
       \/ SyncBlocks(P) /\ wrote[P] = Len(chain[P])
       \/ Certify(P)
    /\ UNCHANGED traceVars

(* A membership request of the adversary in the batch of the next event:  *)
(* a Byzantine member's REMOVE is the spec's RequestRemove; its ROTATE is  *)
(* submitted directly (spec change 3 below: the spec's Rotate reads the    *)
(* Byzantine member's own chain, which the spec never extends).            *)
AdvRequest ==
    /\ HasField(Ev, "batchHash")
    /\ \E x \in B(Ev.batchHash) \ submitted :
          \/ x.k = "remove" /\ x.id \in TraceByzantine /\ RequestRemove(x.id, x.r)
          \/ /\ Gaps /\ x.k = "rotate" /\ x.r \in TraceByzantine
             /\ x.r \in CurView(P).mem /\ x.v = CurView(P).id + 1
             /\ submitted' = submitted \cup {x}
             /\ UNCHANGED <<chain, vote, wset, decided, syncVars, persistenceVars, reconfigVars, networkVars>>
    /\ UNCHANGED traceVars

(* A joiner that has not installed a view runs no core yet: the host does  *)
(* not crash it, while the spec's CrashAll takes it down with the members  *)
(* (it loses nothing: it holds no block and no vote).  It comes back here. *)
JoinerUp ==
    \E r \in TraceJoiners \ TraceByzantine :
       /\ ~up[r] /\ view[r] = -1 /\ chain[r] = <<>>
       /\ Restart(r)
       /\ UNCHANGED traceVars

(* The sync that made block Ev.height durable made its snapshot durable:  *)
(* the next checkpoint, one interval above the last.                      *)
MatchCheckpoint ==
    /\ Ev.height = ckpt[P] + CheckpointInterval
    /\ Checkpoint(P)

MatchCrash ==
    /\ Ev.height = Len(chain[P]) /\ Ev.wrote = wrote[P] /\ Ev.dur = dur[P] /\ Ev.certH = certH[P]
    /\ Crash(P)

MatchCrashAll ==
    LET down == {i \in DOMAIN Ev.replicas : R(Ev.replicas[i]) \notin TraceByzantine} IN
    /\ {R(Ev.replicas[i]) : i \in down} = {r \in CorrectSet : up[r] /\ ~left[r] /\ view[r] >= 0}
    /\ \A i \in down : Ev.durable[i] = dur[R(Ev.replicas[i])]
    /\ CrashAll

(* What the Restart event k of replica r says came back: its synced        *)
(* blocks, regency and certificates, no synced block cut, and its vote in  *)
(* the open cid after the decided instances its record brought back.       *)
RestartFits(r, k) ==
    LET e == TraceLog[k] IN
    /\ e.height = dur[r]
    /\ e.regency = reg[r]
    /\ e.certHeight = certH[r]
    /\ e.cutFrom = 0 \/ e.cutFrom > dur[r]
    /\ Open(r) + e.recovered <= MaxHeight + 1
    /\ e.accepted = vote[r][Open(r) + e.recovered].ts

MatchRestart ==
    IF early[P] = l
    THEN /\ UNCHANGED vars
         /\ early' = [early EXCEPT ![P] = 0]
    ELSE /\ RestartFits(P, l)
         /\ Restart(P)
         /\ UNCHANGED early

(* The index of r's next Restart event at or after l. *)
NextRestart(r) ==
    LET log == TraceLog
        ks == {k \in l..Len(log) : log[k].action = "Restart" /\ R(log[k].replica) = r}
    IN IF ks = {} THEN 0 ELSE MinOf(ks)

(* A replica restarting with decided instances in its consensus record     *)
(* logs them before its Restart event: the spec's Restart comes first.     *)
EarlyRestart ==
    /\ Ev.action = "StateTransfer" /\ Ev.via = "record"
    /\ ~up[P]
    /\ NextRestart(P) > l
    /\ RestartFits(P, NextRestart(P))
    /\ Restart(P)
    /\ early' = [early EXCEPT ![P] = NextRestart(P)]
    /\ UNCHANGED <<l, owed, deferred, redo>>

(* Events whose action a crash may have undone.  The core emits the event  *)
(* of Propose, Write, Accept, StopData and Sync when it takes the action,  *)
(* and holds the message back until it learns that the consensus record   *)
(* logging it is synced (the spec's action logs durably and sends in one  *)
(* step; for Propose the record keeps that the leader proposed in the     *)
(* regency, the spec's PROPOSE in msgs).  The Crash or CrashAll event     *)
(* lists the messages still held (lost): they were never sent.  Their      *)
(* record may have reached the disk all the same (a     *)
(* sync makes everything written before it durable, also a newer record   *)
(* than the one it was asked for), and then the action happened and only  *)
(* its message was lost; otherwise the action never happened.  Such an     *)
(* event is matched either way (no spec step, or its action), and the      *)
(* Restart event (regency, vote) tells which.                              *)
LostKey(e) ==
    IF e.action \in {"Propose", "Write", "Accept"}
    THEN ToString(e.replica) \o ":" \o e.action \o ":" \o ToString(e.cid) \o ":" \o ToString(e.regency)
    ELSE ToString(e.replica) \o ":" \o e.action \o ":" \o ToString(e.regency)

CrashedIn(x, i) ==
    \/ x.action = "Crash" /\ x.replica = i
    \/ x.action = "CrashAll" /\ \E j \in DOMAIN x.replicas : x.replicas[j] = i

Voided(log, k) ==
    LET e == log[k]
        later == {j \in (k + 1)..Len(log) : CrashedIn(log[j], e.replica)}
    IN /\ e.action \in {"Propose", "Write", "Accept", "StopData", "Sync"}
       /\ later # {}
       /\ LET x == log[MinOf(later)] IN
          HasField(x, "lost") /\ \E j \in DOMAIN x.lost : x.lost[j] = LostKey(e)

VoidedEvents == TLCEval(LET log == TraceLog IN {k \in DOMAIN log : Voided(log, k)})

(* The step of the current event, with the trace variables it changes.   *)
MatchedEvent ==
    CASE Ev.action = "Submit"        -> MatchSubmit /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Propose"       -> MatchPropose /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Write"         -> MatchWrite /\ owed' = owed \ {<<P, Ev.cid, Ev.regency, Ev.batchHash>>}
                                          /\ UNCHANGED deferred
      [] Ev.action = "Accept"        -> MatchAccept /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Decide"        -> MatchDecide /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Stop"          -> MatchStop /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "StopData"      -> MatchStopData /\ deferred' = [deferred EXCEPT ![P] = NoDeferral]
                                          /\ UNCHANGED owed
      [] Ev.action = "Sync"          -> MatchSync /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Resume"        -> MatchResume
      [] Ev.action = "StateTransfer" -> MatchStateTransfer /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "PersistBlock"  -> MatchPersistBlock /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "SyncBlocks"    -> MatchSyncBlocks /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Commit"        -> MatchCommit /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Certify"       -> MatchCertify /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "ReleaseReply"  -> MatchReleaseReply /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "AcceptReply"   -> MatchAcceptReply /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Checkpoint"    -> MatchCheckpoint /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "RequestJoin"   -> MatchRequestJoin /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "RequestLeave"  -> MatchRequestLeave /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "RequestRemove" -> MatchRequestRemove /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Rotate"        -> MatchRotate /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "InstallView"   -> MatchInstallView /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "EraseKeys"     -> MatchEraseKeys /\ UNCHANGED <<owed, deferred>>
      [] Ev.action = "Crash"         -> MatchCrash /\ UNCHANGED owed
                                          /\ deferred' = [deferred EXCEPT ![P] = NoDeferral]
      [] Ev.action = "CrashAll"      -> MatchCrashAll /\ UNCHANGED owed
                                          /\ deferred' = [r \in Replicas |-> IF up'[r] THEN deferred[r] ELSE NoDeferral]
      [] Ev.action = "Restart"       -> MatchRestart /\ UNCHANGED <<owed, deferred>>
      [] OTHER                       -> FALSE

Matched ==
    /\ \/ /\ l \in VoidedEvents
          /\ UNCHANGED <<vars, deferred>>
          /\ owed' = IF Ev.action = "Write" THEN owed \ {<<P, Ev.cid, Ev.regency, Ev.batchHash>>} ELSE owed
       \/ MatchedEvent
    /\ IF Ev.action = "Restart" THEN TRUE ELSE UNCHANGED early
    /\ IF Ev.action \in {"PersistBlock", "SyncBlocks"} THEN TRUE ELSE UNCHANGED redo

(* The batch of the next event, submitted by its client first. *)
SubmitBatch ==
    /\ HasField(Ev, "batchHash")
    /\ ClientTx(BatchId[Ev.batchHash]) \notin submitted
    /\ Submit(BatchId[Ev.batchHash])
    /\ UNCHANGED traceVars

(* A deferred Resume, taken once the replica has caught up to its cid. *)
DeferredResume ==
    \E r \in Replicas \ Byzantine :
       LET d == deferred[r]
           V == CurView(r)
           b == B(d.batchHash)
       IN /\ d.cid > 0
          /\ Open(r) >= d.cid /\ reg[r] <= d.regency
          /\ Resume(r)
          /\ reg'[r] = d.regency
          /\ IF Open(r) = d.cid
             THEN /\ WriteMsg(r, V.id, d.cid, d.regency, b) \in msgs'
                  /\ owed' = owed \cup {<<r, d.cid, d.regency, d.batchHash>>}
             ELSE UNCHANGED owed
          /\ deferred' = [deferred EXCEPT ![r] = NoDeferral]
          /\ UNCHANGED <<l, early, redo>>

(* The highest l reached so far, kept in TLC register 1 for TraceAccepted. *)
Reached(k) == TLCSet(1, Max2(TLCGet(1), k))

TraceInit ==
    /\ Init
    /\ l = 1
    /\ owed = {}
    /\ deferred = [r \in Replicas |-> NoDeferral]
    /\ early = [r \in Replicas |-> 0]
    /\ redo = [r \in Replicas |-> 0]
    /\ TLCSet(1, 1)

TraceNext ==
    /\ l <= Len(TraceLog)
    /\ \/ SubmitBatch
       \/ DeferredResume
       \/ EarlyRestart
       \/ LateAccept
       \/ JoinerCatchUp
       \/ JoinerUp
       \/ AdvRequest
       \/ /\ ~(HasField(Ev, "batchHash") /\ ClientTx(BatchId[Ev.batchHash]) \notin submitted)
          /\ Matched
          /\ l' = l + 1
          /\ Reached(l')

TraceSpec == TraceInit /\ [][TraceNext]_<<vars, traceVars>>

(* Checked once TLC has explored every behaviour that follows the trace.   *)
TraceAccepted ==
    LET k == TLCGet(1) IN
    IF k > Len(TraceLog)
    THEN PrintT(<<"TRACE-ACCEPTED", Len(TraceLog)>>)
    ELSE /\ PrintT(<<"TRACE-UNMATCHED", k, TraceLog[k].seq, TraceLog[k]>>)
         /\ FALSE

=============================================================================
