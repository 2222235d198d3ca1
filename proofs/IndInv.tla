-------------------------------- MODULE IndInv --------------------------------
(***************************************************************************)
(* An inductive invariant for Agreement and NoFork (proofs/README.md says  *)
(* for which configurations it is checked, and how).                       *)
(*                                                                         *)
(* The argument is the one of Byzantine consensus with a collect-based     *)
(* leader change, made into state predicates:                              *)
(*  - the verified chain VC: walking from genesis, the unique batch that   *)
(*    has q valid ACCEPT signatures at each height (NoFork says unique);   *)
(*  - every correct replica's chain, and every decision ever made, is a    *)
(*    prefix of / on VC;                                                   *)
(*  - every message a correct replica sent is justified by its state and   *)
(*    by other messages (its vote log, its regency, the proposal or SYNC   *)
(*    it wrote, the STOPDATA it reported);                                 *)
(*  - the lock: once a batch b is choosable in (cid c, regency e), that    *)
(*    is q members have accepted it or still can (the adversary's keys     *)
(*    count as able), every WRITE, ACCEPT and PROPOSE of a correct replica *)
(*    and every SYNC a replica can receive for c in a later regency        *)
(*    carries b.                                                           *)
(* The lock and the vote log give NoFork (two ACCEPT quorums at one cid    *)
(* meet in a correct replica that accepted once per regency and, in later  *)
(* regencies, only the locked value); NoFork and the chain conjuncts give  *)
(* Agreement.                                                              *)
(*                                                                         *)
(* The invariant is stated for weak and strong mode (memory mode forgets   *)
(* the vote log on a crash and is not safe) and for configurations without *)
(* reconfiguration (Joiners, Leavers and Removable empty), where the view  *)
(* of every cid is the genesis view.                                       *)
(***************************************************************************)
EXTENDS SmartChain

-----------------------------------------------------------------------------
(* The verified chain. *)

(* The batches that verify at the height after verified prefix p. *)
CertifiedNext(p) ==
    LET V == ViewAfter(p)
        c == Len(p) + 1
    IN {b \in AcceptedBatches(V, c) : Certified(p, c, b)}

RECURSIVE VerifiedFrom(_)
VerifiedFrom(p) ==
    IF Len(p) >= MaxHeight THEN p
    ELSE LET B == CertifiedNext(p) IN
         IF B = {} THEN p ELSE VerifiedFrom(Append(p, CHOOSE b \in B : TRUE))

VC == VerifiedFrom(<<>>)

(* The cids a correct replica can be working on. *)
LiveCids == 1..Min(Len(VC) + 1, MaxHeight)

(* The view of cid c (c <= Len(VC) + 1). *)
VOf(c) == ViewAt(VC, c)

(* Message sets. *)
MsgsOf(t) == {m \in msgs : m.type = t}
ConsensusMsgs == {m \in msgs : m.type \in {"PROPOSE", "WRITE", "ACCEPT"}}
AccOf(r, c) == {m \in MsgsOf("ACCEPT") : m.from = r /\ m.c = c}

(* The batches a free choice may use (a superset of any ValidBatches(r)). *)
FreeBatches == {b \in SUBSET submitted : b # {} /\ Cardinality(b) <= BatchMax}

-----------------------------------------------------------------------------
(* The conjuncts. *)

(* The configuration the invariant is stated for. *)
InvScope ==
    /\ Mode \in {"weak", "strong"}
    /\ Joiners = {} /\ Leavers = {} /\ Removable = {}

(* Byzantine replicas' own variables are never used and keep their initial *)
(* values; the adversary is the implicit message supply of Network.        *)
InvByzantine ==
    \A r \in Byzantine :
       /\ chain[r] = <<>> /\ vote[r] = EmptyVotes /\ wset[r] = EmptyWset
       /\ reg[r] = 0 /\ active[r] /\ up[r]
       /\ wrote[r] = 0 /\ dur[r] = 0 /\ certH[r] = 0 /\ ckpt[r] = 0
       /\ view[r] = (IF r \in InitialMembers THEN 0 ELSE -1)
       /\ keys[r] = (IF r \in InitialMembers THEN {0} ELSE {})
       /\ ~left[r]

(* Without reconfiguration nobody is compromised and views never change. *)
InvStaticViews ==
    /\ compromised = {}
    /\ \A r \in Replicas : view[r] = (IF r \in InitialMembers THEN 0 ELSE -1)
                           /\ keys[r] = (IF r \in InitialMembers THEN {0} ELSE {}) /\ ~left[r]

(* Only correct replicas' messages are in msgs. *)
InvSenders == \A m \in msgs : m.from \in Replicas \ Byzantine

(* A replica that is down holds exactly its synced blocks. *)
InvDown == \A r \in CorrectSet : ~up[r] => wrote[r] = dur[r] /\ Len(chain[r]) = dur[r]

(* Correct chains and decisions lie on the verified chain. *)
InvChains == \A r \in CorrectSet : Len(chain[r]) <= Len(VC) /\ chain[r] = Prefix(VC, Len(chain[r]))
InvDecided == \A x \in decided : x[1] \in 1..Len(VC) /\ VC[x[1]] = x[2]

(* Consensus messages are for a live cid, in its view, and at most the     *)
(* sender's regency; one of a regency e >= 1 follows a SYNC of e (the      *)
(* normal case resumes in e only on a SYNC offer, the leader's own         *)
(* included), so a leader has written nothing in its regency when it       *)
(* takes its fresh STOPDATA.                                               *)
InvConsensusMsgs ==
    \A m \in ConsensusMsgs :
       /\ m.c \in LiveCids /\ m.v = VOf(m.c).id
       /\ m.e <= reg[m.from]
       /\ m.e >= 1 => SyncOffers(VOf(m.c), m.e) # {}

(* The vote log (durable in weak and strong mode): it holds the sender's   *)
(* latest ACCEPT at each cid, one ACCEPT per regency, none above reg.      *)
InvVoteLog ==
    \A r \in CorrectSet, c \in Cids :
       /\ vote[r][c].ts >= 0 => \E m \in AccOf(r, c) : m.e = vote[r][c].ts /\ m.b = vote[r][c].b
       /\ \A m \in AccOf(r, c) : m.e < vote[r][c].ts \/ (m.e = vote[r][c].ts /\ m.b = vote[r][c].b)
       /\ vote[r][c].ts <= reg[r]
InvVoteBeyond == \A r \in CorrectSet : vote[r][MaxHeight + 1] = NoVote /\ wset[r][MaxHeight + 1] = {}

(* An ACCEPT follows q matching WRITEs. *)
InvAcceptJustified == \A m \in MsgsOf("ACCEPT") : WriteQuorum(VOf(m.c), m.c, m.e, m.b)

(* A correct PROPOSE comes from the regency's leader, once per regency. *)
InvPropose ==
    \A m \in MsgsOf("PROPOSE") :
       /\ m.from = Leader(VOf(m.c), m.e)
       /\ \A m2 \in MsgsOf("PROPOSE") : m2.from = m.from /\ m2.c = m.c /\ m2.e = m.e => m2 = m

(* A correct WRITE follows the leader's proposal or a SYNC offer. *)
InvWriteJustified ==
    \A m \in MsgsOf("WRITE") :
       LET V == VOf(m.c) IN
       \/ m.b \in ProposalsFor(V, m.c, m.e)
       \/ \E o \in SyncOffers(V, m.e) : o[1] = m.c /\ o[2] = m.b

(* A write set holds only what its owner wrote or accepted. *)
InvWset ==
    \A r \in CorrectSet, c \in Cids : \A w \in wset[r][c] :
       \E m \in ConsensusMsgs : m.type \in {"WRITE", "ACCEPT"} /\ m.from = r /\ m.c = c
                                /\ m.e = w[1] /\ m.b = w[2]

(* STOP(e) is sent from regency e - 1 at the latest (a suspicion), or to   *)
(* join f + 1 other members that asked for e (the adversary's members      *)
(* count as asking); and some correct replica asked for e from regency     *)
(* e - 1 or later, since the adversary alone is not f + 1 members.         *)
InvStop ==
    \A m \in MsgsOf("STOP") :
       LET V == VOf(1) IN
       /\ m.v = 0
       /\ \/ m.e <= reg[m.from] + 1
          \/ Cardinality({x \in V.mem \ {m.from} : StopMsg(x, 0, m.e) \in msgs \/ x \in AdvIds}) >= F(V) + 1
       /\ \E x \in CorrectSet : StopMsg(x, 0, m.e) \in msgs /\ m.e <= reg[x] + 1

(* A STOPDATA tells the truth about the sender at the moment it sent it    *)
(* (on moving to regency e, or, from the leader of e, with its SYNC): it   *)
(* had decided ld blocks (on VC) and accepted nothing in a lower regency   *)
(* beyond cid ld + 1; (ts, b) is its highest ACCEPT below e at cid ld + 1, *)
(* and its write set is part of what it wrote or accepted.  A replica      *)
(* sends one STOPDATA per regency, except that the leader of e sends a     *)
(* fresh one with its SYNC.                                                *)
InvStopData ==
    \A m \in MsgsOf("STOPDATA") :
       LET r == m.from
           c == m.ld + 1
       IN /\ m.v = 0 /\ m.e <= reg[r] /\ m.ld <= Len(VC)
          /\ \/ m.ts = -1 /\ m.b = {}
             \/ m.ts \in 0..(m.e - 1) /\ \E a \in AccOf(r, c) : a.e = m.ts /\ a.b = m.b
          /\ \A a \in AccOf(r, c) : a.e < m.e => a.e < m.ts \/ (a.e = m.ts /\ a.b = m.b)
          /\ \A a \in MsgsOf("ACCEPT") : a.from = r /\ a.e < m.e => a.c <= c
          /\ \A w \in m.ws :
                /\ w[1] < m.e
                /\ \E x \in ConsensusMsgs : x.type \in {"WRITE", "ACCEPT"} /\ x.from = r /\ x.c = c
                                           /\ x.e = w[1] /\ x.b = w[2]
          /\ \A m2 \in MsgsOf("STOPDATA") :
                m2.from = r /\ m2.e = m.e /\ m2 # m =>
                   /\ r = Leader(VOf(1), m.e)
                   /\ \E s \in MsgsOf("SYNC") : s.from = r /\ s.e = m.e

(* A correct leader's SYNC is one the collect rule allows, once per        *)
(* regency.                                                                *)
InvSync ==
    \A m \in MsgsOf("SYNC") :
       LET V == VOf(Min(m.c, Len(VC) + 1)) IN
       /\ m.v = 0 /\ m.c <= Len(VC) + 1
       /\ m.from = Leader(V, m.e) /\ m.e <= reg[m.from]
       /\ \E S \in StopDataSets(V, m.e) : <<m.c, m.b, m.bound>> \in SyncChoices(V, S, FreeBatches)
       /\ \A m2 \in MsgsOf("SYNC") : m2.from = m.from /\ m2.e = m.e => m2 = m

(* A replica that runs the normal case in a regency e >= 1 has resumed    *)
(* there with a SYNC offer: one for a cid it has reached and, if the offer *)
(* fixes its open cid, it has written that value (a restart in a regency  *)
(* e >= 1 clears active, so the replica resumes with a SYNC again).        *)
InvActive ==
    \A r \in CorrectSet :
       up[r] /\ active[r] /\ reg[r] >= 1 =>
          \E o \in SyncOffers(CurView(r), reg[r]) :
             /\ o[1] <= Open(r)
             /\ o[1] = Open(r) /\ o[2] # {} => <<reg[r], o[2]>> \in wset[r][Open(r)]

(* The lock.  Members that can still accept in (c, e): correct ones that   *)
(* are not beyond regency e and have not accepted at e or later, and the   *)
(* members whose key the adversary holds.                                  *)
CanAccept(V, c, e) ==
    {m \in V.mem : AdvHolds(m, V.id) \/ (Correct(m) /\ reg[m] <= e /\ vote[m][c].ts < e)}
AcceptedBy(V, c, e, b) == {m \in V.mem : AcceptMsg(m, V.id, c, e, b) \in msgs}
Choosable(V, c, e, b) == Cardinality(CanAccept(V, c, e) \cup AcceptedBy(V, c, e, b)) >= Q(V)

(* What correct replicas use, and may receive as a SYNC value, for cid c   *)
(* in regency e.                                                           *)
UsedAt(c, e) == {m.b : m \in {x \in ConsensusMsgs : x.c = c /\ x.e = e}}
OfferedAt(V, c, e) == {o[2] : o \in {x \in SyncOffers(V, e) : x[1] = c}}

InvLock ==
    \A c \in LiveCids :
       LET V == VOf(c) IN
       \A e \in Regencies :
          LET anyChoosable == Cardinality(CanAccept(V, c, e)) >= Q(V)
              locked == {b \in {m.b : m \in {x \in MsgsOf("ACCEPT") : x.c = c /\ x.e = e}} :
                            Choosable(V, c, e, b)}
          IN \A e2 \in (e + 1)..MaxRegency :
                LET used == UsedAt(c, e2) \cup OfferedAt(V, c, e2) IN
                /\ anyChoosable => used = {}
                /\ \A b \in locked : used \subseteq {b}

IndInv ==
    /\ InvScope
    /\ TypeOK
    /\ InvByzantine
    /\ InvStaticViews
    /\ InvSenders
    /\ InvDown
    /\ NoFork
    /\ InvChains
    /\ InvDecided
    /\ InvConsensusMsgs
    /\ InvVoteLog
    /\ InvVoteBeyond
    /\ InvAcceptJustified
    /\ InvPropose
    /\ InvWriteJustified
    /\ InvWset
    /\ InvStop
    /\ InvStopData
    /\ InvSync
    /\ InvActive
    /\ InvLock

(* IndInv without the lock: the evidence configuration of the step check   *)
(* (MCIndInvStepNoLock.cfg) shows that this weaker predicate is not        *)
(* inductive, so the step check can fail.                                  *)
IndInvNoLock ==
    /\ InvScope
    /\ TypeOK
    /\ InvByzantine
    /\ InvStaticViews
    /\ InvSenders
    /\ InvDown
    /\ NoFork
    /\ InvChains
    /\ InvDecided
    /\ InvConsensusMsgs
    /\ InvVoteLog
    /\ InvVoteBeyond
    /\ InvAcceptJustified
    /\ InvPropose
    /\ InvWriteJustified
    /\ InvWset
    /\ InvStop
    /\ InvStopData
    /\ InvSync
    /\ InvActive

(* The theorems checked by TLC (proofs/README.md):                         *)
(*   Init => IndInv;  IndInv /\ [Next]_vars => IndInv';                    *)
(*   IndInv => Agreement /\ NoFork.                                        *)
IndInvImpliesSafety == IndInv => Agreement /\ NoFork

=============================================================================
