---------------------------- MODULE Synchronization ----------------------------
(***************************************************************************)
(* Mod-SMaRt leader change (PROTOCOL.md section 2): STOP, STOPDATA, SYNC.  *)
(*                                                                         *)
(* A replica that suspects its leader sends STOP(e + 1); f + 1 STOPs make  *)
(* it join.  On q STOPs it moves to regency e + 1 and sends STOPDATA,      *)
(* signed with its view key: its last decided cid and, for the cid after   *)
(* it, its last ACCEPT (ts, b) and its write set.  The new leader collects *)
(* q STOPDATA and chooses the value the collect rule forces (below); the   *)
(* SYNC carries the collected STOPDATA so every replica re-checks the      *)
(* choice before it resumes.                                               *)
(*                                                                         *)
(* The collect rule is the one of the Byzantine read/write epoch consensus *)
(* underlying Mod-SMaRt.  For the open cid c0 (one after the highest last  *)
(* decided cid reported), with S the collected states:                     *)
(*  - b is bound by (ts, b) if q states accepted nothing newer than ts and *)
(*    nothing else at ts, and f + 1 write sets contain b at ts or later;   *)
(*  - S is unbound if q states accepted nothing in c0.                     *)
(* A bound value must be chosen; if nothing is bound and S is unbound the  *)
(* leader chooses freely (or nothing, and proposes later); otherwise S     *)
(* cannot justify any value.                                               *)
(***************************************************************************)
EXTENDS Ordering

(* The state a STOPDATA reports about cid c (empty if the sender had not   *)
(* reached c).                                                             *)
StateFor(s, c) == IF s.ld = c - 1 THEN [ts |-> s.ts, b |-> s.b, ws |-> s.ws]
                  ELSE [ts |-> -1, b |-> {}, ws |-> {}]

Unbound(V, S, c) == Cardinality({s \in S : StateFor(s, c).ts = -1}) >= Q(V)

Binds(V, S, c, ts, b) ==
    /\ Cardinality({s \in S : LET x == StateFor(s, c) IN x.ts < ts \/ (x.ts = ts /\ x.b = b)}) >= Q(V)
    /\ Cardinality({s \in S : \E w \in StateFor(s, c).ws : w[1] >= ts /\ w[2] = b}) >= F(V) + 1

ReportedBatches(S, c) ==
    ({StateFor(s, c).b : s \in S} \cup {w[2] : w \in UNION {StateFor(s, c).ws : s \in S}}) \ {{}}

BoundValues(V, S, c) == {b \in ReportedBatches(S, c) : \E ts \in Regencies : Binds(V, S, c, ts, b)}

(* The open cid a set of STOPDATA determines. *)
SyncCid(S) == MaxOf({s.ld : s \in S}) + 1

(* The <<cid, batch, bound>> choices S justifies; free: the batches the    *)
(* leader may choose when S is unbound.                                    *)
SyncChoices(V, S, free) ==
    LET c == SyncCid(S)
        bound == BoundValues(V, S, c)
    IN IF c > MaxHeight THEN {<<c, {}, FALSE>>}
       ELSE IF bound # {} THEN {<<c, b, TRUE>> : b \in bound}
       ELSE IF Unbound(V, S, c) THEN {<<c, b, FALSE>> : b \in free \cup {{}}}
       ELSE {}

(* STOPDATA the adversary can sign for its members of V: it reports cid    *)
(* ld + 1 as the correct ones do (a higher last decided cid needs a        *)
(* decision proof), and any state built from batches correct replicas      *)
(* wrote or accepted in that cid (other batches can bind nothing).         *)
AdvStates(V, e, c) ==
    LET cands == {m.b : m \in {x \in msgs : x.type \in {"WRITE", "ACCEPT"} /\ x.v = V.id /\ x.c = c}}
    IN {[ts |-> -1, b |-> {}, ws |-> {}]}
       \cup {[ts |-> -1, b |-> {}, ws |-> {<<t, x>>}] : t \in 0..(e - 1), x \in cands}
       \cup {[ts |-> t, b |-> x, ws |-> {<<t, x>>}] : t \in 0..(e - 1), x \in cands}

(* Every set of at least q STOPDATA, from distinct members, that a leader  *)
(* of (V, e) can collect: honest ones from msgs, plus adversary ones.      *)
StopDataSets(V, e) ==
    LET honest == {m \in msgs : m.type = "STOPDATA" /\ m.v = V.id /\ m.e = e}
        advMem == {m \in V.mem : AdvHolds(m, V.id)}
        hsets == {H \in SUBSET honest : \A x, y \in H : x.from = y.from => x = y}
        adv(H) == LET ld == IF H = {} THEN 0 ELSE MaxOf({s.ld : s \in H})
                      opts == AdvStates(V, e, ld + 1)
                  IN UNION {{{StopDataMsg(a, V.id, e, ld, g[a].ts, g[a].b, g[a].ws) : a \in D} :
                                g \in [D -> opts]} : D \in SUBSET (advMem \ {s.from : s \in H})}
    IN {S \in UNION {{H \cup A : A \in adv(H)} : H \in hsets} : Cardinality(S) >= Q(V)}

(* The SYNC offers r can receive for (V, e): the leader's SYNC messages,   *)
(* or, from an adversary leader, any choice some collectable set allows.   *)
SyncOffers(V, e) ==
    LET L == Leader(V, e) IN
    {<<m.c, m.b, m.bound>> : m \in {x \in msgs : x.type = "SYNC" /\ x.from = L /\ x.v = V.id /\ x.e = e}}
    \cup (IF L \in AdvIds
          THEN UNION {SyncChoices(V, S, AdvBatches) : S \in StopDataSets(V, e)}
          ELSE {})

-----------------------------------------------------------------------------
(* r suspects its leader (a pending request outlived its timeout: at any   *)
(* time before GST, only for an adversary or crashed leader after it), or  *)
(* joins f + 1 STOPs, and sends STOP(e + 1).                               *)
Stop(r) ==
    LET V == CurView(r)
        e == reg[r] + 1
        L == Leader(V, reg[r])
    IN /\ OperatingIn(r, V)
       /\ e <= MaxRegency
       /\ StopMsg(r, V.id, e) \notin msgs
       /\ \/ /\ Pending(r) # {}
             /\ ~gst \/ L \in AdvIds \/ ~up[L]
          \/ Cardinality({m \in V.mem : StopMsg(m, V.id, e) \in msgs \/ m \in AdvIds}) >= F(V) + 1
       /\ msgs' = msgs \cup {StopMsg(r, V.id, e)}
       /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* On q STOPs r moves to regency e + 1 (durably, except in memory mode),   *)
(* stops the normal case and sends its signed STOPDATA.                    *)
StopData(r) ==
    LET V == CurView(r)
        e == reg[r] + 1
        c == Open(r)
    IN /\ OperatingIn(r, V)
       /\ e <= MaxRegency
       /\ Cardinality({m \in V.mem : StopMsg(m, V.id, e) \in msgs \/ m \in AdvIds}) >= Q(V)
       /\ reg' = [reg EXCEPT ![r] = e]
       /\ active' = [active EXCEPT ![r] = FALSE]
       /\ msgs' = msgs \cup {StopDataMsg(r, V.id, e, c - 1, vote[r][c].ts, vote[r][c].b, wset[r][c])}
       /\ UNCHANGED <<orderingVars, persistenceVars, reconfigVars, compromised, gst>>

(* The new leader, having collected q STOPDATA, sends SYNC with the value  *)
(* the collect rule allows (a free choice comes from its pending requests).*)
Sync(r) ==
    LET V == CurView(r)
        e == reg[r]
    IN /\ ~active[r] /\ OperatingIn(r, V)
       /\ r = Leader(V, e)
       /\ ~\E m \in msgs : m.type = "SYNC" /\ m.from = r /\ m.v = V.id /\ m.e = e
       /\ \E S \in StopDataSets(V, e) :
            \E ch \in SyncChoices(V, S, ValidBatches(r)) :
              /\ Open(r) >= ch[1]
              /\ msgs' = msgs \cup {SyncMsg(r, V.id, e, ch[1], ch[2], ch[3])}
       /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* r checks a SYNC of its regency and resumes the normal case; if the SYNC *)
(* fixes a value for r's open cid, r writes it (a free value must be a     *)
(* valid batch for r).  A replica behind the SYNC's cid first catches up   *)
(* by state transfer.                                                      *)
Resume(r) ==
    LET V == CurView(r)
        e == reg[r]
    IN /\ ~active[r] /\ OperatingIn(r, V)
       /\ \E o \in SyncOffers(V, e) :
            LET c0 == o[1]
                b == o[2]
            IN /\ Open(r) >= c0
               /\ IF Open(r) = c0 /\ b # {}
                  THEN /\ o[3] \/ ValidBatch(r, b)
                       /\ msgs' = msgs \cup {WriteMsg(r, V.id, c0, e, b)}
                       /\ wset' = [wset EXCEPT ![r][c0] = @ \cup {<<e, b>>}]
                  ELSE UNCHANGED <<msgs, wset>>
       /\ active' = [active EXCEPT ![r] = TRUE]
       /\ UNCHANGED <<submitted, chain, vote, decided, reg, persistenceVars, reconfigVars,
                      compromised, gst>>

=============================================================================
