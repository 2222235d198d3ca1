---------------------------- MODULE GenBehaviours ----------------------------
(***************************************************************************)
(* Behaviour generation: spec -> implementation.                           *)
(*                                                                         *)
(* TLC simulates the Ordering and Synchronization actions of SmartChain    *)
(* (spec/) and stops at the first state where the goal named by the       *)
(* environment variable GOAL holds (the invariant GoalNotReached fails);   *)
(* -dumpTrace json writes that behaviour, which scripts/gen-behaviours.ts  *)
(* turns into conformance/behaviours/<goal>.json for the replay test.     *)
(*                                                                         *)
(* The implementation resolves some of the spec's choices deterministically*)
(* and the replay can only give it inputs, so the generated behaviours are *)
(* restricted to the choices it makes (GenNext; each restriction keeps a   *)
(* subset of the spec's steps, so every generated behaviour is one of the  *)
(* spec's):                                                                *)
(*  - a leader proposes, and a leader with a free SYNC value chooses, its  *)
(*    lowest pending transaction (the implementation takes pending         *)
(*    transactions in arrival order, and the replay submits them in order);*)
(*  - a SYNC carries a value for the leader's own open cid (the            *)
(*    implementation never sends an empty SYNC, and a leader behind the    *)
(*    collected cid catches up by state transfer first);                   *)
(*  - clients submit in id order;                                         *)
(*  - the goals normal-case and two-instances are reached without STOP;    *)
(*  - a replica accepts only the value it wrote in that regency, and       *)
(*    decides only a batch it wrote (the implementation needs the batch;   *)
(*    without it, it asks for state transfer instead).                     *)
(***************************************************************************)
EXTENDS SmartChain, TLC, IOUtils

LowestPending(r) == {ClientTx(MinOf({i \in Txs : ClientTx(i) \in Pending(r)}))}

NewMsgs == msgs' \ msgs

GenPropose(r) ==
    /\ Pending(r) # {}
    /\ Propose(r)
    /\ \A m \in NewMsgs : m.b = LowestPending(r)

GenSync(r) ==
    /\ Sync(r)
    /\ \A m \in NewMsgs : /\ m.b # {} /\ m.c = Open(r)
                          /\ (~m.bound => m.b = LowestPending(r))

GenAccept(r) ==
    /\ Accept(r)
    /\ <<reg[r], vote'[r][Open(r)].b>> \in wset[r][Open(r)]

GenDecide(r) ==
    /\ Decide(r)
    /\ \E e \in Regencies : <<e, chain'[r][Open(r)]>> \in wset[r][Open(r)]

(* Clients submit in id order (the replay delivers them in that order). *)
GenSubmit(i) ==
    /\ \A j \in Txs : j < i => ClientTx(j) \in submitted
    /\ Submit(i)

(* The normal-case goals are reached without a leader change. *)
LeaderChanges == IOEnv.GOAL \notin {"normal-case", "two-instances"}

GenStop(r) == LeaderChanges /\ Stop(r)

GenNext ==
    \/ \E i \in Txs : GenSubmit(i)
    \/ \E r \in Replicas \ Byzantine :
         \/ GenPropose(r) \/ Write(r) \/ GenAccept(r) \/ GenDecide(r)
         \/ GenStop(r) \/ StopData(r) \/ GenSync(r) \/ Resume(r)

GenSpec == Init /\ [][GenNext]_vars

-----------------------------------------------------------------------------
(* Goals: each names a state a behaviour must reach. *)
DecidedAt(r, c) == Len(chain[r]) >= c
SyncSent(bound) == \E m \in msgs : m.type = "SYNC" /\ m.bound = bound

Reached(goal) ==
    CASE goal = "normal-case"   -> \A r \in Replicas : DecidedAt(r, 1) /\ reg[r] = 0
      [] goal = "two-instances" -> \A r \in Replicas : DecidedAt(r, 2)
      [] goal = "leader-change-free" ->
            /\ SyncSent(FALSE)
            /\ \A r \in Replicas : reg[r] = 1 /\ active[r] /\ DecidedAt(r, 1)
      [] goal = "leader-change-bound" ->
            /\ SyncSent(TRUE)
            /\ \A r \in Replicas : reg[r] = 1 /\ active[r] /\ DecidedAt(r, 1)
      [] OTHER -> Assert(FALSE, "GOAL names no goal")

GoalNotReached == ~Reached(IOEnv.GOAL)

=============================================================================
