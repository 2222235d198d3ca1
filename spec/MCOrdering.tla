------------------------------ MODULE MCOrdering ------------------------------
(***************************************************************************)
(* Ordering models: the normal case and the leader change only            *)
(* (OrderingNext and SynchronizationNext of SmartChain), before the        *)
(* network stabilises (every timeout may fire), n = 4 with replica 1       *)
(* Byzantine and leader of regency 0; replica 2, correct, leads regency 1. *)
(*   MCOrdering.cfg: two transactions, batches of one, so the Byzantine    *)
(*     leader can equivocate (PROPOSE {t1} to some replicas and {t2} to    *)
(*     others, any STOPDATA and SYNC it can sign); random simulation,      *)
(*     since the exhaustive search of this model does not fit the time     *)
(*     budget;                                                             *)
(*   MCOrderingExhaustive.cfg: one transaction, the same adversary         *)
(*     otherwise; breadth-first over every reachable state.                *)
(***************************************************************************)
EXTENDS SmartChain

MCNext == OrderingNext \/ SynchronizationNext
MCSpec == Init /\ [][MCNext]_vars

(* Clients submit before the replicas move: the order of submissions      *)
(* relative to protocol steps only multiplies states, since a request is  *)
(* pending at a replica from its submission on.                            *)
SubmitFirst == submitted # ClientTxs => submitted' # submitted
=============================================================================
