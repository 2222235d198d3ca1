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
(*                                                                         *)
(* Persistence goals (the mode comes from the environment variable MODE,   *)
(* and crashes are allowed only for the crash goals) add these:            *)
(*  - a replica takes part in ordering and leader change only once its     *)
(*    decided blocks are written and synced (and certified, in strong      *)
(*    mode): the implementation writes block h + 1 only after block h is   *)
(*    synced (certified), and a replay cannot make it sync a later block   *)
(*    alone;                                                              *)
(*  - a block is written once the ACCEPTs of the q lowest-numbered members *)
(*    for it are in msgs (weak and strong mode write the canonical proof,  *)
(*    src/persistence/persist-block.ts);                                  *)
(*  - a replica crashes only when it has nothing decided and unsynced      *)
(*    (what its consensus record would bring back is outside the spec's   *)
(*    Crash), and not while it leads its regency with a proposal out (a   *)
(*    leader that restarts has forgotten its proposal, which the spec's    *)
(*    msgs remember);                                                      *)
(*  - checkpoint goals (CheckpointInterval 1, the other goals 100 as the   *)
(*    implementation's default, so that they take none): a replica whose   *)
(*    next checkpoint is due takes it before it takes part in ordering or  *)
(*    crashes (the implementation takes it when the sync completes);       *)
(*  - a restarted replica decides the batch it had accepted (it keeps it   *)
(*    with its vote) as well as one it wrote, and after a crash a replica  *)
(*    decides on q ACCEPTs of others (a restarted replica keeps its vote  *)
(*    but does not count its own ACCEPT again).                           *)
(***************************************************************************)
EXTENDS SmartChain, TLC, IOUtils

LowestPending(r) == {ClientTx(MinOf({i \in Txs : ClientTx(i) \in Pending(r)}))}

NewMsgs == msgs' \ msgs

(* The persistence mode and the number of crashes: from the environment.  *)
GenMode == IF "MODE" \in DOMAIN IOEnv THEN IOEnv.MODE ELSE "weak"
CrashGoals == {"crash-restart", "crash-all", "checkpoint-restart"}
GenMaxCrashes == IF IOEnv.GOAL \in CrashGoals THEN 1 ELSE 0

(* The checkpoint interval K: 1 for the checkpoint goals, otherwise the    *)
(* implementation's default (no checkpoint below MaxHeight).               *)
CheckpointGoals == {"checkpoint", "checkpoint-restart"}
GenCheckpointInterval == IF IOEnv.GOAL \in CheckpointGoals THEN 1 ELSE 100

(* r's next checkpoint is due: its blocks up to ckpt + K are synced.       *)
CheckpointDue(r) == up[r] /\ ckpt[r] + CheckpointInterval <= dur[r]

(* r's decided blocks are written and synced (certified in strong mode),  *)
(* and it took the checkpoints they complete.                              *)
Settled(r) ==
    /\ wrote[r] = Len(chain[r]) /\ dur[r] = wrote[r]
    /\ Mode = "strong" => certH[r] = dur[r]
    /\ ~CheckpointDue(r)

GenPropose(r) ==
    /\ Settled(r)
    /\ Pending(r) # {}
    /\ Propose(r)
    /\ \A m \in NewMsgs : m.b = LowestPending(r)

GenWrite(r) ==
    /\ Settled(r)
    /\ Write(r)

GenSync(r) ==
    /\ Settled(r)
    /\ Sync(r)
    /\ \A m \in NewMsgs : /\ m.b # {} /\ m.c = Open(r)
                          /\ (~m.bound => m.b = LowestPending(r))

GenAccept(r) ==
    /\ Settled(r)
    /\ Accept(r)
    /\ <<reg[r], vote'[r][Open(r)].b>> \in wset[r][Open(r)]

(* After a crash, q ACCEPTs of others (a restarted replica keeps its vote  *)
(* but not its own ACCEPT among those it collects).                        *)
OthersAccepted(r, b) ==
    LET V == CurView(r) IN
    \E e \in Regencies : Cardinality({m \in V.mem \ {r} : AcceptMsg(m, V.id, Open(r), e, b) \in msgs}) >= Q(V)

GenDecide(r) ==
    /\ Settled(r)
    /\ Decide(r)
    /\ \/ \E e \in Regencies : <<e, chain'[r][Open(r)]>> \in wset[r][Open(r)]
       \/ vote[r][Open(r)].b = chain'[r][Open(r)]
    /\ crashes = 0 \/ OthersAccepted(r, chain'[r][Open(r)])

(* Clients submit in id order (the replay delivers them in that order). *)
GenSubmit(i) ==
    /\ \A j \in Txs : j < i => ClientTx(j) \in submitted
    /\ Submit(i)

(* The normal-case and persistence goals are reached without a leader     *)
(* change.                                                                 *)
LeaderChanges == IOEnv.GOAL \in {"leader-change-free", "leader-change-bound"}

GenStop(r) == LeaderChanges /\ Settled(r) /\ Stop(r)
GenStopData(r) == Settled(r) /\ StopData(r)
GenResume(r) == Settled(r) /\ Resume(r)

(* The q lowest-numbered members of V. *)
Lowest(V) == {m \in V.mem : Cardinality({x \in V.mem : x < m}) < Q(V)}

(* Block h of r can be written with the canonical proof: the ACCEPTs of    *)
(* the q lowest-numbered members for it are in msgs.                       *)
CanonicalHeld(r, h) ==
    LET V == ViewAt(chain[r], h) IN
    \E e \in Regencies : \A m \in Lowest(V) : AcceptMsg(m, V.id, h, e, chain[r][h]) \in msgs

GenPersistBlock(r) ==
    /\ PersistBlock(r)
    /\ Mode = "memory" \/ CanonicalHeld(r, wrote[r] + 1)

(* crash-restart: a replica that has a synced block and has accepted in   *)
(* its open cid crashes.  checkpoint-restart: a replica that took the      *)
(* checkpoint of block 1 crashes with nothing unsynced (it restarts from   *)
(* that checkpoint).                                                       *)
GenCrash(r) ==
    /\ \/ /\ IOEnv.GOAL = "crash-restart"
          /\ vote[r][Open(r)].ts >= 0
       \/ /\ IOEnv.GOAL = "checkpoint-restart"
          /\ ckpt[r] >= 1
    /\ Settled(r) /\ dur[r] >= 1
    /\ r # Leader(CurView(r), reg[r])
    /\ Crash(r)

(* crash-all: every replica crashes between two instances: all settled     *)
(* with at least one block, and no leader has proposed for its open cid.   *)
GenCrashAll ==
    /\ IOEnv.GOAL = "crash-all"
    /\ \A r \in Replicas : up[r] => Settled(r) /\ dur[r] >= 1
    /\ ~\E m \in msgs : m.type = "PROPOSE" /\ m.c = Open(m.from)
    /\ CrashAll

GenNext ==
    \/ \E i \in Txs : GenSubmit(i)
    \/ \E r \in Replicas \ Byzantine :
         \/ GenPropose(r) \/ GenWrite(r) \/ GenAccept(r) \/ GenDecide(r)
         \/ GenStop(r) \/ GenStopData(r) \/ GenSync(r) \/ GenResume(r)
         \/ GenPersistBlock(r) \/ SyncBlocks(r) \/ Commit(r) \/ Certify(r) \/ ReleaseReply(r)
         \/ Checkpoint(r) \/ GenCrash(r) \/ Restart(r)
    \/ GenCrashAll

GenSpec == Init /\ [][GenNext]_vars

-----------------------------------------------------------------------------
(* Goals: each names a state a behaviour must reach. *)
DecidedAt(r, c) == Len(chain[r]) >= c
SyncSent(bound) == \E m \in msgs : m.type = "SYNC" /\ m.bound = bound

(* r has released the replies of block h. *)
Released(r, h) == \E m \in msgs : m.type = "REPLY" /\ m.from = r /\ m.h = h

Reached(goal) ==
    CASE goal = "normal-case"   -> \A r \in Replicas : DecidedAt(r, 1) /\ reg[r] = 0
      [] goal = "two-instances" -> \A r \in Replicas : DecidedAt(r, 2)
      [] goal = "leader-change-free" ->
            /\ SyncSent(FALSE)
            /\ \A r \in Replicas : reg[r] = 1 /\ active[r] /\ DecidedAt(r, 1)
      [] goal = "leader-change-bound" ->
            /\ SyncSent(TRUE)
            /\ \A r \in Replicas : reg[r] = 1 /\ active[r] /\ DecidedAt(r, 1)
      (* weak mode: every replica synced block 1 and released its replies *)
      [] goal = "persist-weak" ->
            \A r \in Replicas : dur[r] >= 1 /\ Released(r, 1)
      (* strong mode: every replica certified blocks 1 and 2 and released their replies *)
      [] goal = "certify-strong" ->
            \A r \in Replicas : certH[r] >= 2 /\ Released(r, 2)
      (* a replica crashed after it accepted, restarted, and every replica synced block 2 *)
      [] goal = "crash-restart" ->
            /\ crashes = 1
            /\ \A r \in Replicas : up[r] /\ dur[r] >= 2
      (* every replica crashed at once and restarted, and every replica certified block 2 *)
      [] goal = "crash-all" ->
            /\ crashes = 1
            /\ \A r \in Replicas : up[r] /\ certH[r] >= 2
      (* weak mode, K = 1: every replica took the checkpoints of blocks 1   *)
      (* and 2 and released the replies of block 2                         *)
      [] goal = "checkpoint" ->
            \A r \in Replicas : ckpt[r] >= 2 /\ Released(r, 2)
      (* strong mode, K = 1: a replica crashed after its checkpoint 1,      *)
      (* restarted, and every replica took checkpoint 2                     *)
      [] goal = "checkpoint-restart" ->
            /\ crashes = 1
            /\ \A r \in Replicas : up[r] /\ ckpt[r] >= 2 /\ certH[r] >= 2
      [] OTHER -> Assert(FALSE, "GOAL names no goal")

GoalNotReached == ~Reached(IOEnv.GOAL)

=============================================================================
