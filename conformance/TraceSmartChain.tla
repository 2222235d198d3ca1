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
(***************************************************************************)
EXTENDS SmartChain, TLC, Json, IOUtils

VARIABLES
    l,          \* the index of the next trace event to match
    owed,       \* <<replica, cid, regency, hash>>: a Resume wrote it, its Write event is due
    deferred    \* deferred[r]: a Resume event of r ahead of its open cid, or a record with cid = 0

traceVars == <<l, owed, deferred>>

-----------------------------------------------------------------------------
(* The run. *)
Meta == JsonDeserialize(IOEnv.TRACE_META)
RawLog == ndJsonDeserialize(IOEnv.TRACE_FILE)

R(i) == i + 1
TraceReplicas == 1..Meta.n
TraceByzantine == {R(Meta.byzantine[i]) : i \in DOMAIN Meta.byzantine}

TraceLog == TLCEval(SelectSeq(RawLog, LAMBDA e : R(e.replica) \notin TraceByzantine))
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
B(h) == {ClientTx(BatchId[h])}
TraceBatches == {B(h) : h \in BatchHashes}

TraceTxs == {TxId[k] : k \in TxKeys} \cup {BatchId[h] : h \in BatchHashes}

Max2(a, b) == IF a >= b THEN a ELSE b
FieldMax(f) == LET log == TraceLog
                   vals == {log[i][f] : i \in {j \in DOMAIN log : HasField(log[j], f)}}
               IN IF vals = {} THEN 0 ELSE MaxOf(vals)
TraceMaxHeight == Max2(1, FieldMax("cid"))
TraceMaxRegency == FieldMax("regency")

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

MatchStop ==
    /\ \/ Ev.from = reg[P]
       \/ deferred[P].cid > 0 /\ Ev.from = deferred[P].regency
    /\ Ev.regency > reg[P] /\ Ev.cid = Open(P)
    /\ Stop(P)
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

MatchStateTransfer ==
    /\ Open(P) = Ev.cid
    /\ StateTransfer(P)
    /\ chain'[P] = Append(chain[P], EvBatch)
    /\ Certified(chain[P], Ev.cid, EvBatch)

(* The step of the current event, with the trace variables it changes.   *)
Matched ==
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
      [] OTHER                       -> FALSE

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
          /\ UNCHANGED l

(* The highest l reached so far, kept in TLC register 1 for TraceAccepted. *)
Reached(k) == TLCSet(1, Max2(TLCGet(1), k))

TraceInit ==
    /\ Init
    /\ l = 1
    /\ owed = {}
    /\ deferred = [r \in Replicas |-> NoDeferral]
    /\ TLCSet(1, 1)

TraceNext ==
    /\ l <= Len(TraceLog)
    /\ \/ SubmitBatch
       \/ DeferredResume
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
