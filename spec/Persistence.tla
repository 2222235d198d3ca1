------------------------------ MODULE Persistence ------------------------------
(***************************************************************************)
(* Durable commit, replies, checkpoints, state transfer and crashes        *)
(* (PROTOCOL.md sections 4 and 5).                                         *)
(*                                                                         *)
(* Storage: a replica writes its decided blocks in order (PersistBlock)    *)
(* and syncs them (SyncBlocks, group commit: every written block at once). *)
(* A crash loses whatever was not synced: the chain falls back to the      *)
(* synced blocks, and in memory mode the vote log, the write sets and the  *)
(* regency are lost too (memory mode syncs nothing of the consensus        *)
(* state).  In weak and strong mode the vote log (vote), the write sets    *)
(* (wset) and the regency are synced before the WRITE, ACCEPT or STOPDATA  *)
(* that depends on them is sent.                                           *)
(*                                                                         *)
(* Replies (section 4):                                                    *)
(*   memory  after execute;        client: q matching replies              *)
(*   weak    after the block sync; client: q matching replies              *)
(*   strong  after the certificate (q COMMITs, each signed after the       *)
(*           signer's sync) is stored durably; client: f + 1 matching      *)
(*           replies or one reply carrying a certificate                   *)
(***************************************************************************)
EXTENDS Ordering

(* r may release the reply for the transactions of block h. *)
Releasable(r, h) ==
    CASE Mode = "memory" -> h <= Len(chain[r])
      [] Mode = "weak"   -> h <= dur[r]
      [] Mode = "strong" -> h <= certH[r]

(* Replies r may release now and has not released yet. *)
DueReplies(r) ==
    {ReplyMsg(r, i, h, Prefix(chain[r], h)) :
        <<i, h>> \in {<<i, h>> \in Txs \X (1..Len(chain[r])) : ClientTx(i) \in chain[r][h] /\ Releasable(r, h)}}
    \ msgs

(* The client of transaction i accepts result (h, blk) by the mode's rule; *)
(* replies count from the members of the view that certified block h.      *)
ClientAccepts(i, h, blk) ==
    LET V == ViewAt(blk, h)
        senders == {m \in V.mem : ReplyMsg(m, i, h, blk) \in msgs \/ m \in AdvIds}
    IN /\ ClientTx(i) \in blk[h]
       /\ IF Mode = "strong"
          THEN Cardinality(senders) >= F(V) + 1 \/ CertificateExists(h, blk)
          ELSE Cardinality(senders) >= Q(V)

(* r has sent its COMMIT for block h. *)
CommitSent(r, h) == \E m \in msgs : m.type = "COMMIT" /\ m.from = r /\ m.h = h

(* Blocks r could state-transfer as block c: a correct running peer's      *)
(* block on the same prefix, or any batch the adversary can serve.         *)
TransferCandidates(r, c) ==
    {chain[p][c] : p \in {p \in CorrectSet \ {r} : up[p] /\ ~left[p] /\ Len(chain[p]) >= c
                                                 /\ Prefix(chain[p], c - 1) = chain[r]}}
    \cup (IF AdvIds # {} THEN AcceptedBatches(CurView(r), c) ELSE {})

-----------------------------------------------------------------------------
(* r writes its next decided block to storage (not yet synced). *)
PersistBlock(r) ==
    /\ Correct(r) /\ up[r]
    /\ wrote[r] < Len(chain[r])
    /\ wrote' = [wrote EXCEPT ![r] = @ + 1]
    /\ UNCHANGED <<orderingVars, syncVars, dur, certH, ckpt, up, crashes, accepted, reconfigVars, networkVars>>

(* r syncs storage: every written block becomes durable. *)
SyncBlocks(r) ==
    /\ Correct(r) /\ up[r]
    /\ dur[r] < wrote[r]
    /\ dur' = [dur EXCEPT ![r] = wrote[r]]
    /\ UNCHANGED <<orderingVars, syncVars, wrote, certH, ckpt, up, crashes, accepted, reconfigVars, networkVars>>

(* Strong mode: r signs COMMIT(h, block) for its lowest synced block it    *)
(* has not committed, with the key of the view that certifies h: only      *)
(* after the sync, and only while it holds that key.                       *)
Commit(r) ==
    LET todo == {h \in 1..dur[r] : LET V == ViewAt(chain[r], h) IN
                                   r \in V.mem /\ V.id \in keys[r] /\ ~CommitSent(r, h)}
    IN /\ Mode = "strong"
       /\ Correct(r) /\ up[r] /\ ~left[r]
       /\ todo # {}
       /\ LET h == MinOf(todo) IN
          msgs' = msgs \cup {CommitMsg(r, ViewAt(chain[r], h).id, h, Prefix(chain[r], h))}
       /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* Strong mode: r has q COMMITs for its next synced block and stores the   *)
(* certificate durably.                                                    *)
Certify(r) ==
    LET h == certH[r] + 1 IN
    /\ Mode = "strong"
    /\ Correct(r) /\ up[r]
    /\ h <= dur[r]
    /\ CertificateExists(h, Prefix(chain[r], h))
    /\ certH' = [certH EXCEPT ![r] = h]
    /\ UNCHANGED <<orderingVars, syncVars, wrote, dur, ckpt, up, crashes, accepted, reconfigVars, networkVars>>

(* r releases every reply whose mode condition now holds (group commit     *)
(* releases them together).                                                *)
ReleaseReply(r) ==
    /\ Correct(r) /\ up[r] /\ ~left[r]
    /\ DueReplies(r) # {}
    /\ msgs' = msgs \cup DueReplies(r)
    /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* The client of transaction i accepts a result by its mode's rule. *)
AcceptReply(i) ==
    /\ i \in Txs
    /\ ~\E a \in accepted : a.t = i
    /\ \E m \in {x \in msgs : x.type \in {"REPLY", "COMMIT"}} :
         /\ ClientAccepts(i, m.h, m.blk)
         /\ accepted' = accepted \cup {[t |-> i, h |-> m.h, blk |-> m.blk]}
    /\ UNCHANGED <<orderingVars, syncVars, wrote, dur, certH, ckpt, up, crashes, reconfigVars, networkVars>>

(* r snapshots its application state at the next checkpoint height; the  *)
(* snapshot covers synced blocks only and is itself durable.               *)
Checkpoint(r) ==
    /\ Correct(r) /\ up[r]
    /\ ckpt[r] + CheckpointInterval <= dur[r]
    /\ ckpt' = [ckpt EXCEPT ![r] = @ + CheckpointInterval]
    /\ UNCHANGED <<orderingVars, syncVars, wrote, dur, certH, up, crashes, accepted, reconfigVars, networkVars>>

(* r fetches its next block from peers and verifies it against its own     *)
(* chain: q ACCEPT signatures of the view its chain says is current.       *)
StateTransfer(r) ==
    LET c == Open(r) IN
    /\ Correct(r) /\ up[r] /\ ~left[r]
    /\ c <= MaxHeight
    /\ \E b \in TransferCandidates(r, c) :
         /\ Certified(chain[r], c, b)
         /\ chain' = [chain EXCEPT ![r] = Append(@, b)]
         /\ decided' = decided \cup {<<c, b>>}
    /\ UNCHANGED <<submitted, vote, wset, syncVars, persistenceVars, reconfigVars, networkVars>>

-----------------------------------------------------------------------------
(* What a crash does to one replica's variables. *)
CrashedChain(r) == Prefix(chain[r], dur[r])
EmptyWset == [c \in Cids1 |-> {}]
EmptyVotes == [c \in Cids1 |-> NoVote]

(* r crashes: it loses unsynced blocks and, in memory mode, its consensus *)
(* state.  In weak and strong mode the consensus record keeps the regency, *)
(* the vote and the write set of the open instance: WRITE, ACCEPT and      *)
(* STOPDATA leave only once the record saying so is synced.  The write set *)
(* matters for liveness: a value a correct replica accepted was written by *)
(* q members, and after a full crash f + 1 of their write sets must still  *)
(* report it, or the next leader can neither bind it nor choose freely.    *)
Crash(r) ==
    /\ Correct(r) /\ up[r] /\ ~left[r]
    /\ crashes < MaxCrashes
    /\ up' = [up EXCEPT ![r] = FALSE]
    /\ chain' = [chain EXCEPT ![r] = CrashedChain(r)]
    /\ wrote' = [wrote EXCEPT ![r] = dur[r]]
    /\ IF Mode = "memory"
       THEN /\ vote' = [vote EXCEPT ![r] = EmptyVotes]
            /\ wset' = [wset EXCEPT ![r] = EmptyWset]
            /\ reg' = [reg EXCEPT ![r] = 0]
       ELSE UNCHANGED <<vote, wset, reg>>
    /\ crashes' = crashes + 1
    /\ UNCHANGED <<submitted, decided, active, dur, certH, ckpt, accepted, reconfigVars, networkVars>>

(* Every running correct replica crashes at once (a power cut). *)
CrashAll ==
    LET D == {r \in CorrectSet : up[r] /\ ~left[r]} IN
    /\ D # {}
    /\ crashes < MaxCrashes
    /\ up' = [r \in Replicas |-> IF r \in D THEN FALSE ELSE up[r]]
    /\ chain' = [r \in Replicas |-> IF r \in D THEN CrashedChain(r) ELSE chain[r]]
    /\ wrote' = [r \in Replicas |-> IF r \in D THEN dur[r] ELSE wrote[r]]
    /\ IF Mode = "memory"
       THEN /\ vote' = [r \in Replicas |-> IF r \in D THEN EmptyVotes ELSE vote[r]]
            /\ wset' = [r \in Replicas |-> IF r \in D THEN EmptyWset ELSE wset[r]]
            /\ reg' = [r \in Replicas |-> IF r \in D THEN 0 ELSE reg[r]]
       ELSE UNCHANGED <<vote, wset, reg>>
    /\ crashes' = crashes + 1
    /\ UNCHANGED <<submitted, decided, active, dur, certH, ckpt, accepted, reconfigVars, networkVars>>

(* r restarts from durable state: synced blocks (replayed from the last    *)
(* checkpoint), the vote log and the regency.  After a leader change it    *)
(* waits for the SYNC of its regency again before the normal case.         *)
Restart(r) ==
    /\ Correct(r) /\ ~up[r]
    /\ up' = [up EXCEPT ![r] = TRUE]
    /\ active' = [active EXCEPT ![r] = (reg[r] = 0)]
    /\ UNCHANGED <<orderingVars, reg, wrote, dur, certH, ckpt, crashes, accepted, reconfigVars, networkVars>>

=============================================================================
