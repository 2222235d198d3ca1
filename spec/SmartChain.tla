------------------------------ MODULE SmartChain ------------------------------
(***************************************************************************)
(* SmartChain: the composition of Ordering, Synchronization, Persistence   *)
(* and Reconfiguration over the Network and its adversary, and the         *)
(* properties the protocol must satisfy (spec/README.md states each).      *)
(***************************************************************************)
EXTENDS Ordering, Synchronization, Persistence, Reconfiguration

Init ==
    /\ submitted = {}
    /\ chain = [r \in Replicas |-> <<>>]
    /\ vote = [r \in Replicas |-> [c \in Cids1 |-> NoVote]]
    /\ wset = [r \in Replicas |-> [c \in Cids1 |-> {}]]
    /\ decided = {}
    /\ reg = [r \in Replicas |-> 0]
    /\ active = [r \in Replicas |-> TRUE]
    /\ wrote = [r \in Replicas |-> 0]
    /\ dur = [r \in Replicas |-> 0]
    /\ certH = [r \in Replicas |-> 0]
    /\ ckpt = [r \in Replicas |-> 0]
    /\ up = [r \in Replicas |-> TRUE]
    /\ crashes = 0
    /\ accepted = {}
    /\ view = [r \in Replicas |-> IF r \in InitialMembers THEN 0 ELSE -1]
    /\ keys = [r \in Replicas |-> IF r \in InitialMembers THEN {0} ELSE {}]
    /\ left = [r \in Replicas |-> FALSE]
    /\ msgs = {}
    /\ compromised = {}
    /\ gst = FALSE

(* The steps of each concern, with the parameter each action takes. *)
OrderingNext ==
    \/ \E i \in Txs : Submit(i)
    \/ \E r \in Replicas \ Byzantine : Propose(r) \/ Write(r) \/ Accept(r) \/ Decide(r)

SynchronizationNext ==
    \E r \in Replicas \ Byzantine : Stop(r) \/ StopData(r) \/ Sync(r) \/ Resume(r)

PersistenceNext ==
    \/ \E r \in Replicas \ Byzantine :
          \/ PersistBlock(r) \/ SyncBlocks(r) \/ Commit(r) \/ Certify(r) \/ ReleaseReply(r)
          \/ Checkpoint(r) \/ StateTransfer(r) \/ Crash(r) \/ Restart(r)
    \/ \E i \in Txs : AcceptReply(i)
    \/ CrashAll

ReconfigurationNext ==
    \/ \E r \in Replicas :
          \/ RequestJoin(r) \/ RequestLeave(r) \/ Rotate(r) \/ InstallView(r)
          \/ EraseKeys(r) \/ Compromise(r)
    \/ \E r, t \in Replicas : RequestRemove(r, t)

Next ==
    \/ OrderingNext
    \/ SynchronizationNext
    \/ PersistenceNext
    \/ ReconfigurationNext
    \/ Stabilize

(* Weak fairness on every step the protocol (or a correct client) must     *)
(* eventually take when it stays enabled; none on submissions, membership  *)
(* requests, crashes or compromise, which the environment chooses.         *)
Fairness ==
    /\ \A r \in Replicas :
         /\ WF_vars(Propose(r)) /\ WF_vars(Write(r)) /\ WF_vars(Accept(r)) /\ WF_vars(Decide(r))
         /\ WF_vars(Stop(r)) /\ WF_vars(StopData(r)) /\ WF_vars(Sync(r)) /\ WF_vars(Resume(r))
         /\ WF_vars(PersistBlock(r)) /\ WF_vars(SyncBlocks(r)) /\ WF_vars(Commit(r))
         /\ WF_vars(Certify(r)) /\ WF_vars(ReleaseReply(r)) /\ WF_vars(StateTransfer(r))
         /\ WF_vars(Restart(r)) /\ WF_vars(Rotate(r)) /\ WF_vars(InstallView(r))
         /\ WF_vars(EraseKeys(r))
    /\ \A i \in Txs : WF_vars(AcceptReply(i))
    /\ WF_vars(Stabilize)

Spec == Init /\ [][Next]_vars
LiveSpec == Spec /\ Fairness

-----------------------------------------------------------------------------
(* Properties. *)

TypeOK ==
    /\ submitted \subseteq Requests
    /\ chain \in [Replicas -> Seq(SUBSET Requests)]
    /\ \A r \in Replicas : Len(chain[r]) <= MaxHeight
    /\ vote \in [Replicas -> [Cids1 -> [ts : {-1} \cup Regencies, b : SUBSET Requests]]]
    /\ wset \in [Replicas -> [Cids1 -> SUBSET (Regencies \X SUBSET Requests)]]
    /\ decided \subseteq Cids \X SUBSET Requests
    /\ reg \in [Replicas -> Regencies]
    /\ active \in [Replicas -> BOOLEAN]
    /\ wrote \in [Replicas -> 0..MaxHeight]
    /\ dur \in [Replicas -> 0..MaxHeight]
    /\ certH \in [Replicas -> 0..MaxHeight]
    /\ ckpt \in [Replicas -> 0..MaxHeight]
    /\ \A r \in Replicas : ckpt[r] <= dur[r] /\ certH[r] <= dur[r] /\ dur[r] <= wrote[r]
                           /\ wrote[r] <= Len(chain[r])
    /\ up \in [Replicas -> BOOLEAN]
    /\ crashes \in 0..MaxCrashes
    /\ \A a \in accepted : a.t \in Txs /\ a.h \in Cids /\ a.blk \in Seq(SUBSET Requests)
    /\ view \in [Replicas -> {-1} \cup ViewIds]
    /\ keys \in [Replicas -> SUBSET ViewIds]
    /\ left \in [Replicas -> BOOLEAN]
    /\ compromised \subseteq Replicas \ Byzantine
    /\ gst \in BOOLEAN
    /\ \A m \in msgs : m.type \in {"PROPOSE", "WRITE", "ACCEPT", "STOP", "STOPDATA", "SYNC", "COMMIT", "REPLY"}

(* Correct replicas never decide different batches for one cid: neither   *)
(* two of them, nor one of them before and after a crash.                  *)
Agreement ==
    /\ \A x, y \in decided : x[1] = y[1] => x[2] = y[2]
    /\ \A r1, r2 \in CorrectSet :
         \A h \in 1..Min(Len(chain[r1]), Len(chain[r2])) : chain[r1][h] = chain[r2][h]

RECURSIVE ForkAfter(_)
(* Two different blocks verify at some height after the verified prefix p. *)
ForkAfter(p) ==
    IF Len(p) >= MaxHeight THEN FALSE
    ELSE LET V == ViewAfter(p)
             c == Len(p) + 1
         IN IF AdvKeyCount(V) >= Q(V) THEN TRUE   \* the adversary alone can sign any block at c
            ELSE LET B == {b \in AcceptedBatches(V, c) : Certified(p, c, b)} IN
                 IF Cardinality(B) >= 2 THEN TRUE
                 ELSE \E b \in B : ForkAfter(Append(p, b))

(* Never two different blocks at one height that both verify from genesis.*)
(* A chain verifies if every block h carries q ACCEPT signatures, by the   *)
(* keys of the view its own prefix makes current at h, on its batch; a     *)
(* signature exists if a correct replica produced it or the adversary     *)
(* holds the key.  Two verifying chains that differ first at height h     *)
(* share the verified prefix before h, so it suffices to walk the unique   *)
(* verified prefix and look for two certified batches at its next height. *)
NoFork == ~ForkAfter(<<>>)

(* Correct replicas agree on the view of every height, and a replica's     *)
(* installed view is one its own chain installed.                          *)
ViewConsistency ==
    /\ \A r1, r2 \in CorrectSet :
         \A h \in 1..(Min(Len(chain[r1]), Len(chain[r2])) + 1) :
            LET V1 == ViewAt(chain[r1], h)
                V2 == ViewAt(chain[r2], h)
            IN V1.id = V2.id /\ V1.mem = V2.mem
    /\ \A r \in CorrectSet :
         view[r] >= 0 => \E h \in 1..(Len(chain[r]) + 1) : ViewAt(chain[r], h).id = view[r]

(* Only submitted (validly signed) requests are decided, in non-empty      *)
(* batches within the size limit, and no request twice in one chain.       *)
Validity ==
    /\ \A x \in decided : x[2] # {} /\ x[2] \subseteq submitted /\ Cardinality(x[2]) <= BatchMax
    /\ \A r \in CorrectSet :
         \A h1, h2 \in 1..Len(chain[r]) : h1 # h2 => chain[r][h1] \cap chain[r][h2] = {}

(* A correct replica holds accepted result a: its chain (what survives a   *)
(* crash when it is down) has a's block at a's height.                     *)
Holds(r, a) == Len(chain[r]) >= a.h /\ Prefix(chain[r], a.h) = a.blk

(* Every result a client accepted stays: at least f + 1 correct replicas   *)
(* hold its block (in durable storage if they are down, so a restart or a  *)
(* state transfer from them recovers it), and no correct replica has a     *)
(* different block at that height.                                         *)
DurableReplies ==
    \A a \in accepted :
       /\ Cardinality({r \in CorrectSet : Holds(r, a)}) >= F(ViewAt(a.blk, a.h)) + 1
       /\ \A r \in CorrectSet : Len(chain[r]) >= a.h => Holds(r, a)

(* Supporting invariant for NoFork: the adversary never holds a quorum of  *)
(* the keys of any view a correct replica's chain has used.                *)
OldKeysUseless ==
    \A r \in CorrectSet : \A h \in 1..(Len(chain[r]) + 1) :
       LET V == ViewAt(chain[r], h) IN AdvKeyCount(V) < Q(V)

(* Checkpoints cover only durable blocks, at multiples of K. *)
CheckpointSound ==
    \A r \in Replicas : ckpt[r] <= dur[r] /\ ckpt[r] % CheckpointInterval = 0

(* Liveness (checked under LiveSpec).  Correct members of the current view. *)
CorrectMembers == {r \in CorrectSet : ~left[r] /\ view[r] >= 0}

(* A submitted transaction eventually is in the chain of every correct     *)
(* member, and its client eventually accepts a result.                     *)
Termination ==
    \A i \in Txs :
       ClientTx(i) \in submitted ~> (\A r \in CorrectMembers : ClientTx(i) \in ChainReqs(chain[r]))
ClientProgress ==
    \A i \in Txs : ClientTx(i) \in submitted ~> (\E a \in accepted : a.t = i)

(* A leader controlled by the adversary that holds up a pending request is *)
(* eventually replaced (or the request commits anyway).                    *)
LeaderReplaced ==
    \A r \in Replicas \ Byzantine :
       (Operating(r) /\ Leader(CurView(r), reg[r]) \in AdvIds /\ Pending(r) # {})
         ~> (Leader(CurView(r), reg[r]) \notin AdvIds \/ Pending(r) = {})

=============================================================================
