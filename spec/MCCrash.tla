-------------------------------- MODULE MCCrash --------------------------------
(***************************************************************************)
(* Crash models: the whole SmartChain specification (Next of SmartChain)   *)
(* with crashes, restarts and state transfer, explored breadth-first up to *)
(* the moment the network stabilises (after GST the safety properties have *)
(* nothing new to show: every action is enabled before GST too).           *)
(*   MCCrashWeak.cfg, MCCrashStrong.cfg: DurableReplies and every other    *)
(*     invariant hold;                                                     *)
(*   MCCrashMemory.cfg: the evidence model; memory mode violates           *)
(*     DurableReplies.                                                     *)
(***************************************************************************)
EXTENDS SmartChain

MCConstraint == ~gst

(* The evidence model lets replicas crash only all at once (CrashAll, the *)
(* power cut of PROTOCOL.md section 1): SmartChain's Next without Crash,   *)
(* so that its counterexample is the loss of an accepted result by every   *)
(* correct replica.                                                        *)
FullCrashNext ==
    \/ OrderingNext
    \/ SynchronizationNext
    \/ \E r \in Replicas \ Byzantine :
          \/ PersistBlock(r) \/ SyncBlocks(r) \/ Commit(r) \/ Certify(r) \/ ReleaseReply(r)
          \/ Checkpoint(r) \/ StateTransfer(r) \/ Restart(r)
    \/ \E i \in Txs : AcceptReply(i)
    \/ CrashAll
    \/ ReconfigurationNext
    \/ Stabilize
=============================================================================
