------------------------- MODULE GenReconfigBehaviours -------------------------
(***************************************************************************)
(* Behaviour generation for the reconfiguration actions (spec ->           *)
(* implementation).  Kept apart from GenBehaviours.tla so that TLC's       *)
(* random choices for that module's goals, and the files they produced,    *)
(* do not change.  It reuses GenBehaviours' restrictions and adds:        *)
(*  - requests are taken in a fixed order (LEAVE, JOIN, the ROTATEs by    *)
(*    replica id, client transactions by id): the leader proposes the      *)
(*    lowest pending request, leaves are asked before joins, and the       *)
(*    continuing members rotate in id order, so the implementation         *)
(*    receives them in that order;                                         *)
(*  - the transaction is submitted once the members of view 1 installed it;*)
(*  - only a joiner that has not installed a view takes StateTransfer: it  *)
(*    fetches the chain, writes and syncs it before its first view.        *)
(***************************************************************************)
EXTENDS GenBehaviours

ReqRank(x) == CASE x.k = "leave" -> 0
                [] x.k = "join" -> 1
                [] x.k = "rotate" -> 10 + x.r
                [] OTHER -> 100 + x.id

(* The members that ask to leave: replica 4 in the goal join-leave. *)
GenLeavers == IF IOEnv.GOAL = "join-leave" THEN {4} ELSE {}

(* The leaves are asked first, then the joins. *)
GenRequestJoin(j) ==
    /\ \A l \in Leavers : LeaveReq(l) \in submitted
    /\ RequestJoin(j)

LowestReq(r) == {CHOOSE x \in Pending(r) : \A y \in Pending(r) : ReqRank(x) <= ReqRank(y)}

GenRPropose(r) ==
    /\ Settled(r)
    /\ Pending(r) # {}
    /\ Propose(r)
    /\ \A m \in NewMsgs : m.b = LowestReq(r)

GenRotate(r) ==
    /\ Settled(r)
    /\ \A x \in Continuing(CurView(r)) : x < r => RotateReq(x, CurView(r).id + 1) \in submitted
    /\ Rotate(r)

(* Transactions only once the new view is installed by its members. *)
GenRSubmit(i) ==
    /\ \A r \in (InitialMembers \ Leavers) \cup Joiners : view[r] >= 1
    /\ GenSubmit(i)

GenJoinerTransfer(r) == r \in Joiners /\ view[r] = -1 /\ StateTransfer(r)

GenRNext ==
    \/ \E i \in Txs : GenRSubmit(i)
    \/ \E j \in Joiners : GenRequestJoin(j)
    \/ \E r \in Replicas \ Byzantine :
         \/ GenRPropose(r) \/ GenWrite(r) \/ GenAccept(r) \/ GenDecide(r)
         \/ GenPersistBlock(r) \/ SyncBlocks(r) \/ Commit(r) \/ Certify(r) \/ ReleaseReply(r)
         \/ GenJoinerTransfer(r)
         \/ RequestLeave(r) \/ GenRotate(r) \/ InstallView(r) \/ EraseKeys(r)

GenRSpec == Init /\ [][GenRNext]_vars

(* Goal join-rotate: the joiner and every genesis member installed view 1, *)
(* erased their older keys, and decided transaction 1 in view 1.          *)
RReached(goal) ==
    CASE goal = "join-rotate" ->
            \A r \in InitialMembers \cup Joiners :
                /\ view[r] = 1 /\ keys[r] = {1}
                /\ \E h \in DOMAIN chain[r] : chain[r][h] = {ClientTx(1)}
      (* join-leave: as join-rotate, and member 4 asked to leave: the view    *)
      (* 1 is {1, 2, 3, 5}, and 4 left once it took over, erasing its keys.   *)
      [] goal = "join-leave" ->
            /\ \A r \in (InitialMembers \ Leavers) \cup Joiners :
                  /\ view[r] = 1 /\ keys[r] = {1}
                  /\ \E h \in DOMAIN chain[r] : chain[r][h] = {ClientTx(1)}
            /\ \A r \in Leavers : left[r] /\ keys[r] = {}
      [] OTHER -> Assert(FALSE, "GOAL names no reconfiguration goal")

RGoalNotReached == ~RReached(IOEnv.GOAL)

=============================================================================
