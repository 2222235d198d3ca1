------------------------------ MODULE MCReconfig ------------------------------
(***************************************************************************)
(* Reconfiguration models: the whole SmartChain specification with a join, *)
(* a leave, key rotation and the old-key adversary (a replica that has     *)
(* left is compromised later).  View 0 is {1}; replica 2 may join and      *)
(* replica 1 may leave, so the runs include view 1 = {1, 2} (1 continues   *)
(* and rotates its key) followed by view 2 = {2}, and view 1 = {2} (1      *)
(* leaves in the change that admits 2).                                    *)
(*   MCReconfig.cfg: Erasure = TRUE; NoFork, ViewConsistency and every     *)
(*     other invariant hold;                                               *)
(*   MCNoErasure.cfg: the evidence model; Erasure = FALSE violates NoFork: *)
(*     the compromised leaver still holds its view-0 key, a quorum of      *)
(*     view 0, and signs a second block 1.                                 *)
(***************************************************************************)
EXTENDS SmartChain

MCConstraint == ~gst
=============================================================================
