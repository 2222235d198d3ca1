------------------------------ MODULE MCLiveness ------------------------------
(***************************************************************************)
(* Liveness models: the smallest ones in which TLC can check the liveness  *)
(* properties of SmartChain over the whole state graph, under weak         *)
(* fairness after the network stabilises.  n = 4, one transaction, one     *)
(* block, memory mode (a reply is released once its block is executed, so  *)
(* no storage step is needed for progress; block storage and crashes have  *)
(* their own safety models).                                               *)
(*                                                                         *)
(*   MCLiveness.cfg (SPECIFICATION LiveSpecNormal): replica 4 Byzantine,   *)
(*     the leader (replica 1) correct; Termination and ClientProgress.     *)
(*   MCLivenessLeader.cfg (SPECIFICATION LiveSpecLeader): replica 1        *)
(*     Byzantine and leader of regency 0; LeaderReplaced.                  *)
(*                                                                         *)
(* In both, the network stabilises first and the client submits next.      *)
(* Nothing is lost by that order: after GST a correct replica suspects     *)
(* only an adversarial or crashed leader, and here the leader of regency 0 *)
(* is either always correct (no Stop ever) or always Byzantine (Stop       *)
(* enabled whatever gst is), and MaxRegency bounds the rest.  Each         *)
(* fairness formula is SmartChain's Fairness restricted to exactly the     *)
(* actions its next-state relation takes (weak fairness on an action that  *)
(* the relation never takes would make every behaviour unfair and the      *)
(* check vacuous).                                                         *)
(***************************************************************************)
EXTENDS SmartChain

(* The environment first: GST, then every client submits. *)
EnvFirst(A) ==
    IF ~gst THEN Stabilize
    ELSE IF \E i \in Txs : ClientTx(i) \notin submitted THEN \E i \in Txs : Submit(i)
    ELSE A

(* Normal case with replies (no leader change: MaxRegency = 0). *)
NormalSteps ==
    \/ \E r \in Replicas \ Byzantine :
          Propose(r) \/ Write(r) \/ Accept(r) \/ Decide(r) \/ ReleaseReply(r)
    \/ \E i \in Txs : AcceptReply(i)

NormalFairness ==
    /\ \A r \in Replicas \ Byzantine :
         /\ WF_vars(Propose(r)) /\ WF_vars(Write(r)) /\ WF_vars(Accept(r)) /\ WF_vars(Decide(r))
         /\ WF_vars(ReleaseReply(r))
    /\ \A i \in Txs : WF_vars(AcceptReply(i))
    /\ WF_vars(Stabilize)

LiveSpecNormal == Init /\ [][EnvFirst(NormalSteps)]_vars /\ NormalFairness

(* A Byzantine leader of regency 0: the normal case under it, and the     *)
(* steps that replace it (STOP and the move to regency 1).  Sync and      *)
(* Resume are left out: a replica in regency 1 has a correct leader, so    *)
(* LeaderReplaced holds for it whatever it does next.                      *)
LeaderSteps ==
    \E r \in Replicas \ Byzantine :
       Write(r) \/ Accept(r) \/ Decide(r) \/ Stop(r) \/ StopData(r)

LeaderFairness ==
    /\ \A r \in Replicas \ Byzantine :
         /\ WF_vars(Write(r)) /\ WF_vars(Accept(r)) /\ WF_vars(Decide(r))
         /\ WF_vars(Stop(r)) /\ WF_vars(StopData(r))
    /\ WF_vars(Stabilize)

LiveSpecLeader == Init /\ [][EnvFirst(LeaderSteps)]_vars /\ LeaderFairness
=============================================================================
