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
(*     otherwise; breadth-first over every reachable state;                *)
(*   MCOrderingJumps.cfg: MCOrdering.cfg with regencies 0..2 (replica 3,   *)
(*     correct, leads regency 2), so that regencies can be skipped; random *)
(*     simulation, with three witness configurations                       *)
(*     (MCOrderingJumpsWitness*.cfg, the witnesses below).                 *)
(***************************************************************************)
EXTENDS SmartChain

MCNext == OrderingNext \/ SynchronizationNext
MCSpec == Init /\ [][MCNext]_vars

(* Clients submit before the replicas move: the order of submissions      *)
(* relative to protocol steps only multiplies states, since a request is  *)
(* pending at a replica from its submission on.                            *)
SubmitFirst == submitted # ClientTxs => submitted' # submitted

-----------------------------------------------------------------------------
(* Witnesses for MCOrderingJumps.  Each is the negation of a situation the *)
(* model is meant to reach; a witness configuration checks it and TLC must *)
(* find it violated, which shows that the random behaviours of the model   *)
(* reach that situation (so the safety check there covers it).             *)

(* A correct replica skips a regency in StopData: it installs a regency    *)
(* two or more above its own on q STOPs (an action property).              *)
NoStopDataSkip ==
    [][\A r \in Replicas \ Byzantine : reg'[r] > reg[r] + 1 => active'[r]]_vars

(* A correct replica runs in a regency it never sent STOPDATA for: it      *)
(* entered that regency from a lower one by Resume, on the SYNC alone.     *)
NoResumeIntoHigher ==
    ~\E r \in Replicas \ Byzantine :
        /\ reg[r] >= 1 /\ active[r]
        /\ ~\E m \in msgs : m.type = "STOPDATA" /\ m.from = r /\ m.e = reg[r]

(* A leader's fresh STOPDATA at Sync time differs from the one it sent on  *)
(* entering the regency (it decided in between).                           *)
NoFreshStopData ==
    ~\E m1, m2 \in msgs :
        /\ m1.type = "STOPDATA" /\ m2.type = "STOPDATA"
        /\ m1.from = m2.from /\ m1.e = m2.e /\ m1 # m2
=============================================================================
