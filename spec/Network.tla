------------------------------- MODULE Network -------------------------------
(***************************************************************************)
(* The network and the adversary.                                          *)
(*                                                                         *)
(* msgs holds every message a correct replica has sent.  It only grows: a  *)
(* message can be received any number of times, at any later moment, or    *)
(* never (asynchrony, loss and reordering before GST).                     *)
(*                                                                         *)
(* The adversary controls the Byzantine replicas and every compromised     *)
(* former member.  Its messages are implicit: a message "from" an          *)
(* adversary identity is available to every receiver at every moment, with *)
(* any content, as long as the adversary can sign it.  This is the same as *)
(* an injection action that has already added every well-formed message    *)
(* the adversary can produce, including equivocations, and it keeps the    *)
(* state space small.  Signatures are abstract: a message signed by view   *)
(* key <<m, v>> exists only if m sent it while correct (it is in msgs) or  *)
(* the adversary holds that key (AdvHolds).  Unsigned messages (PROPOSE,   *)
(* WRITE, STOP, SYNC, replies) are authenticated by the channel, that is   *)
(* by identity keys, which are never erased: the adversary can send them   *)
(* as any replica it controls.                                             *)
(***************************************************************************)
EXTENDS Base

(* Message records, one shape per type. *)
ProposeMsg(r, v, c, e, b) == [type |-> "PROPOSE", from |-> r, v |-> v, c |-> c, e |-> e, b |-> b]
WriteMsg(r, v, c, e, b)   == [type |-> "WRITE",   from |-> r, v |-> v, c |-> c, e |-> e, b |-> b]
AcceptMsg(r, v, c, e, b)  == [type |-> "ACCEPT",  from |-> r, v |-> v, c |-> c, e |-> e, b |-> b]
StopMsg(r, v, e)          == [type |-> "STOP",    from |-> r, v |-> v, e |-> e]
(* STOPDATA: the sender's last decided cid ld, and its state in cid ld + 1:*)
(* the last ACCEPT (ts, b) and the write set ws.                           *)
StopDataMsg(r, v, e, ld, ts, b, ws) ==
    [type |-> "STOPDATA", from |-> r, v |-> v, e |-> e, ld |-> ld, ts |-> ts, b |-> b, ws |-> ws]
(* SYNC: the value the new leader chose for cid c ({} = none), and whether *)
(* the STOPDATA it collected bind that value (bound) or leave it free.     *)
SyncMsg(r, v, e, c, b, bound) ==
    [type |-> "SYNC", from |-> r, v |-> v, e |-> e, c |-> c, b |-> b, bound |-> bound]
CommitMsg(r, v, h, blk)   == [type |-> "COMMIT",  from |-> r, v |-> v, h |-> h, blk |-> blk]
ReplyMsg(r, t, h, blk)    == [type |-> "REPLY",   from |-> r, t |-> t, h |-> h, blk |-> blk]

-----------------------------------------------------------------------------
(* The adversary. *)
AdvIds == Byzantine \cup compromised
(* The adversary can sign with m's key for view vid. *)
AdvHolds(m, vid) == m \in Byzantine \/ (m \in compromised /\ vid \in keys[m])
AdvKeyCount(V) == Cardinality({m \in V.mem : AdvHolds(m, V.id)})
(* Replicas that are still correct (neither Byzantine nor compromised). *)
CorrectSet == Replicas \ AdvIds
Correct(r) == r \notin AdvIds

(* Batches the adversary may put in a message: any non-empty set of client *)
(* transactions (submitted or not: an unsubmitted one stands for a forged  *)
(* client signature) and submitted requests, within the size limit.        *)
AdvBatches == {b \in SUBSET (ClientTxs \cup submitted) : b # {} /\ Cardinality(b) <= BatchMax}

-----------------------------------------------------------------------------
(* Receiving: what a correct replica can see. *)

(* Batches proposed by the leader of (V, e) for cid c. *)
ProposalsFor(V, c, e) ==
    LET L == Leader(V, e) IN
    {m.b : m \in {x \in msgs : x.type = "PROPOSE" /\ x.from = L /\ x.v = V.id /\ x.c = c /\ x.e = e}}
    \cup (IF L \in AdvIds THEN AdvBatches ELSE {})

(* Batches some correct replica wrote (resp. accepted) in (V, c, e), plus   *)
(* any batch when the adversary alone can reach a quorum.                  *)
WrittenBatches(V, c, e) ==
    {m.b : m \in {x \in msgs : x.type = "WRITE" /\ x.v = V.id /\ x.c = c /\ x.e = e}}
    \cup (IF Cardinality(V.mem \cap AdvIds) >= Q(V) THEN AdvBatches ELSE {})
AcceptedBatches(V, c) ==
    {m.b : m \in {x \in msgs : x.type = "ACCEPT" /\ x.v = V.id /\ x.c = c}}
    \cup (IF AdvKeyCount(V) >= Q(V) THEN AdvBatches ELSE {})

(* q matching WRITEs (unsigned: any adversary identity can send one). *)
WriteQuorum(V, c, e, b) ==
    Cardinality({m \in V.mem : WriteMsg(m, V.id, c, e, b) \in msgs \/ m \in AdvIds}) >= Q(V)
(* q matching signed ACCEPTs: a decision proof for b in (V, c, e). *)
AcceptQuorum(V, c, e, b) ==
    Cardinality({m \in V.mem : AcceptMsg(m, V.id, c, e, b) \in msgs \/ AdvHolds(m, V.id)}) >= Q(V)

(* Block c with batch b verifies after chain prefix p (c = Len(p) + 1):    *)
(* some regency has q signed ACCEPTs by keys of the view p says is current.*)
Certified(p, c, b) == LET V == ViewAfter(p) IN \E e \in Regencies : AcceptQuorum(V, c, e, b)

(* Strong mode: q signed COMMITs on block blk (height h) by the keys of    *)
(* the view that certifies it.                                             *)
CertificateExists(h, blk) ==
    LET V == ViewAt(blk, h) IN
    Cardinality({m \in V.mem : CommitMsg(m, V.id, h, blk) \in msgs \/ AdvHolds(m, V.id)}) >= Q(V)

-----------------------------------------------------------------------------
(* Eventual synchrony.  Before GST timeouts may fire at any time; after it *)
(* a correct replica suspects its leader only if the leader is controlled  *)
(* by the adversary or crashed.  Stabilize is an environment event, not a  *)
(* protocol action: no replica performs it and it has no trace event.     *)
Stabilize ==
    /\ ~gst
    /\ gst' = TRUE
    /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, msgs, compromised>>

=============================================================================
