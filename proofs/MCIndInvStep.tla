------------------------------ MODULE MCIndInvStep ------------------------------
(***************************************************************************)
(* The inductive step IndInv /\ Next => IndInv', checked by TLC from       *)
(* random IndInv states of configuration IND1 (MCIndInvStep.cfg): n = 4,   *)
(* replica 1 Byzantine and leader of regency 0, two client transactions,   *)
(* batches of one, one cid, regencies 0..2, one crash, weak mode.          *)
(*                                                                         *)
(* The state space of IndInv is far too large to enumerate, so the initial *)
(* states are samples: StepInit makes Samples random draws (a constant of  *)
(* the cfg); each draw builds a state from random choices (Gen) and keeps  *)
(* it only if it satisfies IndInv.  The choices range over the values the  *)
(* variables can take in IND1, except that no REPLY or COMMIT message is   *)
(* sent, no certificate is stored and no client has accepted a result      *)
(* (those variables take no part in IndInv nor in the steps that change    *)
(* the other variables).  The leader-change shapes of Synchronization are  *)
(* drawn too: STOPs joined above the next regency, a replica in a regency  *)
(* it entered by Resume without a STOPDATA of its own, and the fresh       *)
(* STOPDATA a leader sends with its SYNC.  TLC then computes every         *)
(* successor of every sample under the full Next and checks IndInv,        *)
(* Agreement and NoFork on it; StepNext stops the search after one step.   *)
(* With Weakened = TRUE the same is done for IndInvNoLock, which must fail *)
(* (the evidence check).                                                   *)
(* MCIndInvInit.cfg starts from Init instead of StepInit: Init => IndInv.  *)
(***************************************************************************)
EXTENDS IndInv, TLC

CONSTANTS
    Samples,    \* how many random draws StepInit makes
    Weakened    \* TRUE: sample and check IndInvNoLock instead of IndInv (the evidence check)

ASSUME Samples \in Nat \ {0} /\ Weakened \in BOOLEAN

(* The predicate whose inductiveness is checked. *)
StepInv == IF Weakened THEN IndInvNoLock ELSE IndInv

ASSUME MaxHeight = 1 /\ MaxRegency = 2 /\ BatchMax = 1 /\ Byzantine # {} /\ InitialMembers = Replicas

Corr == Replicas \ Byzantine
Bs == {{x} : x \in ClientTxs}
Sub(n) == 1..n

(* The random choices for one correct replica.  Writes and accepts are     *)
(* drawn as dice (Dice) read against the regency's main value (below) so   *)
(* that most samples have the quorums that IndInv needs; every combination *)
(* still has a positive probability.                                       *)
Dice == 0..9
RepChoices ==
    [reg : Regencies, active : BOOLEAN, up : BOOLEAN,
     acc : [Regencies -> Dice],                 \* its ACCEPT in each regency
     wr : [Regencies -> Dice],                  \* its WRITEs in each regency (a crash allows two)
     stops : SUBSET Sub(MaxRegency),            \* the STOPs it sent
     sdp : [Sub(MaxRegency) -> BOOLEAN],        \* whether it sent STOPDATA for regency e
     sdld : [Sub(MaxRegency) -> 0..MaxHeight],  \* the last decided cid it reported there
     sdws : [Sub(MaxRegency) -> SUBSET (Regencies \X Bs)],
     frp : [Sub(MaxRegency) -> BOOLEAN],        \* as leader of e: whether its SYNC came with a fresh STOPDATA
     frld : [Sub(MaxRegency) -> 0..MaxHeight],  \* the last decided cid that fresh STOPDATA reported
     frws : [Sub(MaxRegency) -> SUBSET (Regencies \X Bs)],
     len : 0..MaxHeight, wrote : 0..MaxHeight, dur : 0..MaxHeight,
     wsm : SUBSET (Regencies \X Bs)]

(* The random choices shared by all: each regency's main value, the        *)
(* submitted transactions, the correct leaders' proposals and SYNCs, the   *)
(* decided history, GST, crashes.                                          *)
GlobalChoices ==
    [main : Bs, switch : [Regencies -> Dice], alt : [Regencies -> Bs],
     sub : SUBSET ClientTxs,
     prop : [Sub(MaxRegency) -> Dice],
     syncp : [Sub(MaxRegency) -> BOOLEAN],
     sync : [Sub(MaxRegency) -> (1..(MaxHeight + 1)) \X Dice \X BOOLEAN],
     dec : SUBSET Bs, gst : BOOLEAN, crashes : 0..MaxCrashes]

(* Operators take a dummy argument so that TLC draws anew at each use      *)
(* instead of evaluating a constant definition once.                       *)
DrawReps(i) == RandomElement([Corr -> RepChoices])
DrawGlobal(i) == RandomElement(GlobalChoices)

(* The main value of regency e (usually the same in every regency) and     *)
(* the other one.                                                          *)
Main(g, e) == IF g.switch[e] < 4 THEN g.alt[e] ELSE g.main
Other(g, e) == CHOOSE b \in Bs : b # Main(g, e)
(* A die read as a value: mostly the main value, sometimes the other, or   *)
(* none ({}).                                                              *)
ValueOf(g, e, d, none) == IF d < none THEN {} ELSE IF d = 9 THEN Other(g, e) ELSE Main(g, e)
(* A die read as a set of written values. *)
WritesOf(g, e, d) == CASE d < 3 -> {} [] d = 8 -> {Other(g, e)} [] d = 9 -> Bs [] OTHER -> {Main(g, e)}

V0 == Genesis
PropV(g, e) == ValueOf(g, e, g.prop[e], 2)
Upto(R, r, n) == 0..Min(R[r].reg, n)
(* The values a correct replica may write in regency e >= 1 (whose leader  *)
(* is correct): the leader's proposal and its SYNC value for cid 1.  Other *)
(* writes would break InvWriteJustified, so they are not drawn.            *)
SyncV(g, e) == ValueOf(g, e, g.sync[e][2], 2)
Justified(R, g, e) ==
    IF Leader(V0, e) \in Byzantine THEN Bs
    ELSE LET L == Leader(V0, e) IN
         (IF PropV(g, e) # {} /\ e <= R[L].reg THEN {PropV(g, e)} ELSE {})
         \cup (IF g.syncp[e] /\ g.sync[e][1] = 1 /\ e <= R[L].reg THEN {SyncV(g, e)} \ {{}} ELSE {})
WrV(R, g, r, e) == WritesOf(g, e, R[r].wr[e]) \cap Justified(R, g, e)
(* Accepts are drawn only where the drawn writes give a WRITE quorum (an   *)
(* ACCEPT without one breaks InvAcceptJustified).                          *)
WriteQuorumIn(R, g, e, b) ==
    Cardinality({m \in V0.mem : m \in AdvIds \/ (m \in Corr /\ e <= R[m].reg /\ b \in WrV(R, g, m, e))}) >= Q(V0)
AccV(R, g, r, e) ==
    LET b == ValueOf(g, e, R[r].acc[e], 4) IN IF b # {} /\ WriteQuorumIn(R, g, e, b) THEN b ELSE {}

(* What r wrote or accepted at cid 1 in regencies below e. *)
PairsBelow(R, g, r, e) ==
    {<<x, AccV(R, g, r, x)>> : x \in {y \in Upto(R, r, e - 1) : AccV(R, g, r, y) # {}}}
    \cup UNION {{<<x, b>> : b \in WrV(R, g, r, x)} : x \in Upto(R, r, e - 1)}

(* r's highest ACCEPT at cid 1 below regency e. *)
VoteBelow(R, g, r, e) ==
    LET es == {y \in Upto(R, r, e - 1) : AccV(R, g, r, y) # {}} IN
    IF es = {} THEN NoVote ELSE [ts |-> MaxOf(es), b |-> AccV(R, g, r, MaxOf(es))]

(* Some batch has an ACCEPT quorum at cid 1 (so a replica may have decided *)
(* it).                                                                    *)
CertifiedIn(R, g) ==
    \E e \in Regencies, b \in Bs :
       Cardinality({m \in V0.mem : m \in AdvIds \/ (m \in Corr /\ AccV(R, g, m, e) = b)}) >= Q(V0)

(* A STOPDATA of r for regency e reporting last decided cid ld (1 only if  *)
(* some batch is certified) and write set ws (cut to what r wrote or       *)
(* accepted below e): for cid 1, r's highest ACCEPT below e.               *)
SdMsg(R, g, r, e, ld, ws) ==
    IF ld = 0 \/ ~CertifiedIn(R, g)
    THEN StopDataMsg(r, 0, e, 0, VoteBelow(R, g, r, e).ts, VoteBelow(R, g, r, e).b, ws \cap PairsBelow(R, g, r, e))
    ELSE StopDataMsg(r, 0, e, ld, -1, {}, {})

(* The STOPs r asked for on a suspicion (from regency y - 1 or later), and *)
(* those it joined: f + 1 other members (the adversary's among them) had   *)
(* asked for y.                                                            *)
SuspectStops(R, r) == {y \in R[r].stops : y <= R[r].reg + 1}
JoinedStops(R, r) ==
    {y \in R[r].stops \ SuspectStops(R, r) :
        Cardinality({x \in V0.mem \ {r} : x \in AdvIds \/ (x \in Corr /\ y \in SuspectStops(R, x))}) >= F(V0) + 1}

GenMsgs(R, g) ==
    LET acc == UNION {{AcceptMsg(r, 0, 1, e, AccV(R, g, r, e)) : e \in {y \in Upto(R, r, MaxRegency) : AccV(R, g, r, y) # {}}} : r \in Corr}
        wr == UNION {UNION {{WriteMsg(r, 0, 1, e, b) : b \in WrV(R, g, r, e)} : e \in Upto(R, r, MaxRegency)} : r \in Corr}
        prop == {ProposeMsg(Leader(V0, e), 0, 1, e, PropV(g, e)) :
                    e \in {y \in Sub(MaxRegency) : Leader(V0, y) \in Corr /\ PropV(g, y) # {}
                                                   /\ y <= R[Leader(V0, y)].reg}}
        stop == UNION {{StopMsg(r, 0, e) : e \in SuspectStops(R, r) \cup JoinedStops(R, r)} : r \in Corr}
        stopdata == UNION {{SdMsg(R, g, r, e, R[r].sdld[e], R[r].sdws[e]) :
                               e \in {y \in Sub(MaxRegency) : y <= R[r].reg /\ R[r].sdp[y]}} : r \in Corr}
    IN acc \cup wr \cup prop \cup stop \cup stopdata

(* The leader-change operators of the spec over message set M instead of   *)
(* msgs, to draw SYNC messages that the drawn STOPDATA justify.            *)
Over(M) == INSTANCE Synchronization WITH msgs <- M

(* The SYNC messages the correct leader L of regency e may have sent,      *)
(* given the other messages M: none, or one with a choice the collect rule *)
(* allows for some collectable set of STOPDATA, with (if drawn) the fresh  *)
(* STOPDATA of L that goes out with it.                                    *)
SyncOptions(R, g, M, e) ==
    LET L == Leader(V0, e)
        fresh == IF R[L].frp[e] THEN {SdMsg(R, g, L, e, R[L].frld[e], R[L].frws[e])} ELSE {}
        M1 == M \cup fresh
    IN
    IF L \in Byzantine \/ e > R[L].reg THEN {{}}
    ELSE {{}} \cup {{SyncMsg(L, 0, e, ch[1], ch[2], ch[3])} \cup fresh :
                      ch \in UNION {Over(M1)!SyncChoices(V0, S, FreeBatches) : S \in Over(M1)!StopDataSets(V0, e)}}

(* A state from the choices R and g.  Conjuncts are evaluated in order, so *)
(* chain and decided can look at the certified batches of msgs.            *)
Gen(R, g) ==
    /\ view = [r \in Replicas |-> 0]
    /\ keys = [r \in Replicas |-> {0}]
    /\ left = [r \in Replicas |-> FALSE]
    /\ compromised = {}
    /\ gst = g.gst
    /\ submitted = g.sub
    /\ LET M0 == GenMsgs(R, g) IN
       \E s1 \in SyncOptions(R, g, M0, 1), s2 \in SyncOptions(R, g, M0, 2) : msgs = M0 \cup s1 \cup s2
    /\ vote = [r \in Replicas |-> IF r \in Corr
                                  THEN [c \in Cids1 |-> IF c = 1 THEN VoteBelow(R, g, r, MaxRegency + 1) ELSE NoVote]
                                  ELSE EmptyVotes]
    /\ wset = [r \in Replicas |-> IF r \in Corr
                                  THEN [c \in Cids1 |-> IF c = 1 THEN R[r].wsm \cap PairsBelow(R, g, r, MaxRegency + 1) ELSE {}]
                                  ELSE EmptyWset]
    /\ reg = [r \in Replicas |-> IF r \in Corr THEN R[r].reg ELSE 0]
    /\ active = [r \in Replicas |-> IF r \in Corr THEN R[r].active ELSE TRUE]
    /\ up = [r \in Replicas |-> IF r \in Corr THEN R[r].up ELSE TRUE]
    /\ LET cert == {b \in Bs : \E e \in Regencies : AcceptQuorum(V0, 1, e, b)} IN
       /\ chain = [r \in Replicas |-> IF r \in Corr /\ R[r].len = 1 /\ cert # {}
                                      THEN <<CHOOSE b \in cert : TRUE>> ELSE <<>>]
       /\ decided = {<<1, b>> : b \in cert \cap g.dec}
    /\ wrote = [r \in Replicas |-> IF r \in Corr
                                   THEN IF R[r].up THEN Min(R[r].wrote, Len(chain[r])) ELSE Len(chain[r])
                                   ELSE 0]
    /\ dur = [r \in Replicas |-> IF r \in Corr
                                 THEN IF R[r].up THEN Min(R[r].dur, wrote[r]) ELSE Len(chain[r])
                                 ELSE 0]
    /\ certH = [r \in Replicas |-> 0]
    /\ ckpt = [r \in Replicas |-> 0]
    /\ crashes = g.crashes
    /\ accepted = {}

StepInit ==
    /\ \E i \in 1..Samples : \E R \in {DrawReps(i)} : \E g \in {DrawGlobal(i)} : Gen(R, g)
    /\ StepInv

(* Only the sampled states (level 1) take steps: their successors are      *)
(* checked, not expanded.                                                  *)
StepNext == TLCGet("level") = 1 /\ Next

-----------------------------------------------------------------------------
(* Witnesses for the samples.  Each is the negation of a leader-change     *)
(* shape the samples must include; a witness configuration draws samples  *)
(* (NEXT SamplesOnly: no steps) and TLC must find the witness violated on  *)
(* one of them, which shows that the step check starts from such states.   *)
SamplesOnly == FALSE /\ UNCHANGED vars

(* The leader of a regency sent, with its SYNC, a fresh STOPDATA that      *)
(* differs from the one it sent on entering the regency.                   *)
SampleNoFreshStopData ==
    ~\E m1, m2 \in MsgsOf("STOPDATA") : m1.from = m2.from /\ m1.e = m2.e /\ m1 # m2

(* A correct replica joined a STOP for a regency above the next one.       *)
SampleNoJoinedStop == ~\E m \in MsgsOf("STOP") : m.e > reg[m.from] + 1

(* A correct replica runs the normal case in a regency it entered by       *)
(* Resume, without a STOPDATA of its own for it.                           *)
SampleNoResumeIntoHigher ==
    ~\E r \in Corr : /\ reg[r] >= 1 /\ active[r] /\ up[r]
                     /\ ~\E m \in MsgsOf("STOPDATA") : m.from = r /\ m.e = reg[r]

=============================================================================
