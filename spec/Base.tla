-------------------------------- MODULE Base --------------------------------
(***************************************************************************)
(* The constants, the state variables and the derived functions that every *)
(* concern of the SmartChain specification shares.  Nothing here changes   *)
(* state: the actions live in Ordering, Synchronization, Persistence and    *)
(* Reconfiguration, the adversary in Network, the composition and the      *)
(* properties in SmartChain.                                                *)
(*                                                                         *)
(* Abstractions (spec/README.md explains why each is sound):               *)
(*  - A block is identified by its whole chain prefix: hash links make a   *)
(*    block determine its history, so block h of replica r is the sequence *)
(*    chain[r][1..h] of batches.  Heights and consensus ids coincide:      *)
(*    cid h decides block h; block 0 is genesis.                           *)
(*  - A batch is a set of requests (client transactions and membership     *)
(*    requests); its hash is the set itself.                               *)
(*  - A view is not stored in blocks: it is a deterministic function of    *)
(*    the chain prefix (ViewAfter), exactly as every replica computes it   *)
(*    by executing the blocks.                                             *)
(*  - A view key is the pair <<replica, view id>>: every view gets fresh   *)
(*    keys (ROTATE / JOIN carry them).                                     *)
(***************************************************************************)
EXTENDS Naturals, Integers, FiniteSets, Sequences

CONSTANTS
    Replicas,           \* every replica id (naturals); the id order is the leader order
    Byzantine,          \* replicas that are Byzantine for the whole run
    InitialMembers,     \* members of view 0, written in genesis
    Txs,                \* client transaction ids
    Joiners,            \* the admission allow-list in genesis: replicas that may join
    Leavers,            \* replicas that may ask to leave (an environment choice)
    Removable,          \* replicas that members may ask to evict
    Mode,               \* persistence mode: "memory", "weak" or "strong"
    Erasure,            \* TRUE: replicas erase old view keys (PROTOCOL.md section 6)
    MaxHeight,          \* model bound: highest cid, that is highest block height
    MaxRegency,         \* model bound: highest regency in a view
    MaxCrashes,         \* model bound: number of Crash and CrashAll events
    BatchMax,           \* most requests in one batch
    CheckpointInterval, \* K: blocks between checkpoints
    RotationWindow      \* B: blocks after a membership change before the view is installed anyway

NumFaults(n) == (n - 1) \div 3
(* q = ceil((n + f + 1) / 2), src/core/quorum.ts *)
QuorumSize(n) == (n + NumFaults(n) + 2) \div 2

ASSUME /\ InitialMembers # {} /\ InitialMembers \subseteq Replicas /\ Replicas \subseteq Nat
       /\ Byzantine \subseteq Replicas
       /\ Cardinality(Byzantine \cap InitialMembers) <= NumFaults(Cardinality(InitialMembers))
       /\ Joiners \subseteq Replicas /\ Leavers \subseteq Replicas /\ Removable \subseteq Replicas
       /\ Mode \in {"memory", "weak", "strong"}
       /\ Erasure \in BOOLEAN
       /\ MaxHeight \in Nat \ {0} /\ MaxRegency \in Nat /\ MaxCrashes \in Nat
       /\ BatchMax \in Nat \ {0} /\ CheckpointInterval \in Nat \ {0} /\ RotationWindow \in Nat \ {0}

-----------------------------------------------------------------------------
(* Requests: what clients and replicas submit to be ordered.  All have the *)
(* same fields so that any two compare.                                    *)
ClientTx(i)      == [k |-> "tx",     id |-> i,  r |-> 0, v |-> 0]
JoinReq(j)       == [k |-> "join",   id |-> 0,  r |-> j, v |-> 0]
LeaveReq(j)      == [k |-> "leave",  id |-> 0,  r |-> j, v |-> 0]
RemoveReq(by, j) == [k |-> "remove", id |-> by, r |-> j, v |-> 0]
RotateReq(j, vid) == [k |-> "rotate", id |-> 0, r |-> j, v |-> vid]

ClientTxs == {ClientTx(i) : i \in Txs}
ViewIds == 0..MaxHeight
Requests == ClientTxs \cup {JoinReq(j) : j \in Replicas} \cup {LeaveReq(j) : j \in Replicas}
            \cup {RemoveReq(a, b) : a, b \in Replicas} \cup {RotateReq(j, v) : j \in Replicas, v \in ViewIds}

Cids == 1..MaxHeight
Cids1 == 1..(MaxHeight + 1)      \* the open cid of a full chain is MaxHeight + 1
Regencies == 0..MaxRegency
NoVote == [ts |-> -1, b |-> {}]  \* ts = -1: no ACCEPT cast; {} is never a batch

-----------------------------------------------------------------------------
VARIABLES
    (* Ordering *)
    submitted,  \* requests that clients and replicas have submitted (validly signed)
    chain,      \* chain[r]: r's decided blocks 1..Len as a sequence of batches; when r is down, its durable blocks
    vote,       \* vote[r][c] = [ts, b]: the last ACCEPT r cast in cid c; durable (the vote log) except in memory mode
    wset,       \* wset[r][c]: the <<regency, batch>> pairs r wrote or accepted in cid c; volatile
    decided,    \* history: every <<h, batch>> a correct replica ever appended at height h
    (* Synchronization *)
    reg,        \* the regency r is in; durable except in memory mode
    active,     \* r runs the normal case in reg[r]; FALSE from StopData until Resume
    (* Persistence *)
    wrote,      \* blocks 1..wrote[r] are written to storage, maybe not synced
    dur,        \* blocks 1..dur[r] are synced (durable)
    certH,      \* strong mode: the certificates of blocks 1..certH[r] are stored durably
    ckpt,       \* height of r's last durable checkpoint (0: none)
    up,         \* r is running (not crashed)
    crashes,    \* Crash and CrashAll events so far
    accepted,   \* results clients accepted: [t |-> tx id, h |-> height, blk |-> block]
    (* Reconfiguration *)
    view,       \* id of the view r has installed (-1: not a member yet)
    keys,       \* ids of the views whose private view key r still holds
    left,       \* r installed a view without itself: it has left
    (* Network and adversary *)
    msgs,       \* every message a correct replica has sent; only grows
    compromised,\* former members the adversary has taken over
    gst         \* the network has stabilised (global stabilisation time passed)

orderingVars == <<submitted, chain, vote, wset, decided>>
syncVars == <<reg, active>>
persistenceVars == <<wrote, dur, certH, ckpt, up, crashes, accepted>>
reconfigVars == <<view, keys, left>>
networkVars == <<msgs, compromised, gst>>
vars == <<submitted, chain, vote, wset, decided, reg, active, wrote, dur, certH, ckpt, up,
          crashes, accepted, view, keys, left, msgs, compromised, gst>>

-----------------------------------------------------------------------------
(* Sequences and sets. *)
Range(s) == {s[i] : i \in DOMAIN s}
Prefix(s, n) == SubSeq(s, 1, n)
Min(a, b) == IF a <= b THEN a ELSE b
MaxOf(S) == CHOOSE x \in S : \A y \in S : y <= x
MinOf(S) == CHOOSE x \in S : \A y \in S : x <= y
ChainReqs(p) == UNION Range(p)

(* Views: a view state is what executing blocks 1..h tells a replica about *)
(* membership: the current view (id, members), and the change in progress: *)
(* the height ha where it was decided, the requested joins, leaves and     *)
(* evictions, and the continuing members that have rotated their keys.    *)
Genesis == [id |-> 0, mem |-> InitialMembers, ha |-> 0,
            pj |-> {}, pl |-> {}, prm |-> {}, rot |-> {}]

F(V) == NumFaults(Cardinality(V.mem))
Q(V) == QuorumSize(Cardinality(V.mem))

(* Members evicted by f + 1 distinct REMOVE requests. *)
Evicted(V) == {t \in V.mem : Cardinality({by \in V.mem : <<by, t>> \in V.prm}) >= F(V) + 1}
(* Members that stay in the next view (before rotation is checked). *)
Continuing(V) == V.mem \ (V.pl \cup Evicted(V))

(* Execute block h with batch b on view state s (PROTOCOL.md section 6).   *)
(* Joins pass the admission policy (the allow-list Joiners).  The first    *)
(* block with an effective change is ha; ROTATE(v+1) requests count in     *)
(* blocks after ha; block hb installs view v+1 once every continuing       *)
(* member has rotated, or at ha + B dropping those that did not.  The new  *)
(* view is effective from hb + 1 (hb itself is certified by view v).       *)
ApplyMembership(s, b, h) ==
    LET joins   == {x.r : x \in {y \in b : y.k = "join"}} \cap (Joiners \ s.mem)
        leaves  == {x.r : x \in {y \in b : y.k = "leave"}} \cap s.mem
        removes == {<<x.id, x.r>> : x \in {y \in b : y.k = "remove" /\ y.id \in s.mem /\ y.r \in s.mem}}
        rotates == {x.r : x \in {y \in b : y.k = "rotate" /\ y.v = s.id + 1}} \cap s.mem
        s1 == [s EXCEPT !.pj = @ \cup joins, !.pl = @ \cup leaves, !.prm = @ \cup removes,
                        !.rot = IF s.ha # 0 THEN @ \cup rotates ELSE @]
        change == s1.pj \cup s1.pl \cup Evicted(s1) # {}
        ha == IF s.ha = 0 /\ change THEN h ELSE s.ha
        cont == Continuing(s1)
        newMem == (cont \cap s1.rot) \cup s1.pj
        install == /\ ha # 0 /\ h > ha /\ newMem # {}
                   /\ (cont \subseteq s1.rot \/ h >= ha + RotationWindow)
    IN IF install
       THEN [id |-> s.id + 1, mem |-> newMem, ha |-> 0, pj |-> {}, pl |-> {}, prm |-> {}, rot |-> {}]
       ELSE [s1 EXCEPT !.ha = ha]

(* A block of client transactions only, with no change in progress, leaves *)
(* the view state as it is (the common case, evaluated without the work   *)
(* above).                                                                 *)
ApplyBlock(s, b, h) ==
    IF s.ha = 0 /\ \A x \in b : x.k = "tx" THEN s ELSE ApplyMembership(s, b, h)

RECURSIVE ViewAfter(_)
(* The view state after executing every block of chain prefix p. *)
ViewAfter(p) == IF p = <<>> THEN Genesis
                ELSE ApplyBlock(ViewAfter(Prefix(p, Len(p) - 1)), p[Len(p)], Len(p))

(* The view that orders and certifies block h of chain p. *)
ViewAt(p, h) == ViewAfter(Prefix(p, h - 1))

(* The leader of regency e: members in id order, members[e mod n]. *)
Leader(V, e) == CHOOSE m \in V.mem : Cardinality({x \in V.mem : x < m}) = e % Cardinality(V.mem)

-----------------------------------------------------------------------------
(* Replica-local derived state. *)
CurView(r) == ViewAfter(chain[r])        \* the view of r's open cid
Open(r) == Len(chain[r]) + 1             \* r's open cid
Pending(r) == submitted \ ChainReqs(chain[r])

(* A batch r accepts as a proposal: non-empty, within the size limit, only *)
(* submitted (validly signed) requests, none already in r's chain.         *)
ValidBatch(r, b) == /\ b # {} /\ Cardinality(b) <= BatchMax
                    /\ b \subseteq submitted
                    /\ b \cap ChainReqs(chain[r]) = {}
ValidBatches(r) == {b \in SUBSET Pending(r) : b # {} /\ Cardinality(b) <= BatchMax}

=============================================================================
