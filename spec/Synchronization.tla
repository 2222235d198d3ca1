---------------------------- MODULE Synchronization ----------------------------
(***************************************************************************)
(* Mod-SMaRt leader change (PROTOCOL.md section 2): STOP, STOPDATA, SYNC.  *)
(*                                                                         *)
(* A replica that suspects its leader sends STOP(e + 1); once f + 1        *)
(* members asked for a regency above every one it asked for, it joins and  *)
(* asks for that regency too.  On q STOPs for a regency above its own it   *)
(* installs that regency (regencies may be skipped) and sends STOPDATA,    *)
(* signed with its view key: its last decided cid and, for the cid after   *)
(* it, its last ACCEPT (ts, b) and its write set.  The new leader collects *)
(* q STOPDATA, its own taken fresh at that moment, and chooses the value   *)
(* the collect rule forces (below); the SYNC carries the collected         *)
(* STOPDATA so every replica re-checks the choice before it resumes.  A    *)
(* replica that missed the leader change enters the SYNC's regency from    *)
(* the SYNC alone: its q STOPDATA prove that q members installed it.       *)
(*                                                                         *)
(* The collect rule is the one of the Byzantine read/write epoch consensus *)
(* underlying Mod-SMaRt.  For the open cid c0 (one after the highest last  *)
(* decided cid reported), with S the collected states:                     *)
(*  - (ts, b) binds if some state accepted b at ts, q states accepted      *)
(*    nothing newer than ts and nothing else at ts, and f + 1 write sets   *)
(*    contain b at ts or later;                                            *)
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
    /\ \E s \in S : StateFor(s, c).ts = ts /\ StateFor(s, c).b = b
    /\ Cardinality({s \in S : LET x == StateFor(s, c) IN x.ts < ts \/ (x.ts = ts /\ x.b = b)}) >= Q(V)
    /\ Cardinality({s \in S : \E w \in StateFor(s, c).ws : w[1] >= ts /\ w[2] = b}) >= F(V) + 1

(* The <<ts, b>> pairs the states of S accepted in cid c. *)
AcceptedPairs(S, c) ==
    {<<x.ts, x.b>> : x \in {StateFor(s, c) : s \in S}} \ {<<-1, {}>>}

BoundValues(V, S, c) == {p[2] : p \in {x \in AcceptedPairs(S, c) : Binds(V, S, c, x[1], x[2])}}

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

(* Every set of at least q STOPDATA, from distinct members, that can be    *)
(* collected from the correct members' STOPDATA honest, plus adversary    *)
(* ones.                                                                   *)
StopDataSetsFrom(V, e, honest) ==
    LET advMem == {m \in V.mem : AdvHolds(m, V.id)}
        hsets == {H \in SUBSET honest : \A x, y \in H : x.from = y.from => x = y}
        adv(H) == LET ld == IF H = {} THEN 0 ELSE MaxOf({s.ld : s \in H})
                      opts == AdvStates(V, e, ld + 1)
                  IN UNION {{{StopDataMsg(a, V.id, e, ld, g[a].ts, g[a].b, g[a].ws) : a \in D} :
                                g \in [D -> opts]} : D \in SUBSET (advMem \ {s.from : s \in H})}
    IN {S \in UNION {{H \cup A : A \in adv(H)} : H \in hsets} : Cardinality(S) >= Q(V)}

HonestStopData(V, e) == {m \in msgs : m.type = "STOPDATA" /\ m.v = V.id /\ m.e = e}

(* Every set a leader of (V, e) can collect from the STOPDATA in msgs. *)
StopDataSets(V, e) == StopDataSetsFrom(V, e, HonestStopData(V, e))

(* r's STOPDATA for (V, e) as r would send it now. *)
FreshStopData(r, V, e) ==
    LET c == Open(r) IN StopDataMsg(r, V.id, e, c - 1, vote[r][c].ts, vote[r][c].b, wset[r][c])

(* The regencies r has asked for (sent STOP for) above its own. *)
Asked(r, V) == {e \in Regencies : e > reg[r] /\ StopMsg(r, V.id, e) \in msgs}

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
(* time before GST, only for an adversary or crashed leader after it) and  *)
(* sends STOP(reg + 1), unless it has already asked for a higher regency;  *)
(* or f + 1 members asked for a regency e above every one r asked for, and *)
(* r joins them with STOP(e).                                              *)
Stop(r) ==
    LET V == CurView(r)
        L == Leader(V, reg[r])
    IN /\ OperatingIn(r, V)
       /\ \E e \in (reg[r] + 1)..MaxRegency :
            /\ \A a \in Asked(r, V) : a < e
            /\ \/ /\ e = reg[r] + 1
                  /\ Pending(r) # {}
                  /\ ~gst \/ L \in AdvIds \/ ~up[L]
               \/ Cardinality({m \in V.mem : StopMsg(m, V.id, e) \in msgs \/ m \in AdvIds}) >= F(V) + 1
            /\ msgs' = msgs \cup {StopMsg(r, V.id, e)}
       /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* On q STOPs for a regency e above its own, r moves to e (durably, except *)
(* in memory mode), stops the normal case and sends its signed STOPDATA.   *)
StopData(r) ==
    LET V == CurView(r)
        c == Open(r)
    IN /\ OperatingIn(r, V)
       /\ \E e \in (reg[r] + 1)..MaxRegency :
            /\ Cardinality({m \in V.mem : StopMsg(m, V.id, e) \in msgs \/ m \in AdvIds}) >= Q(V)
            /\ reg' = [reg EXCEPT ![r] = e]
            /\ msgs' = msgs \cup {StopDataMsg(r, V.id, e, c - 1, vote[r][c].ts, vote[r][c].b, wset[r][c])}
       /\ active' = [active EXCEPT ![r] = FALSE]
       /\ UNCHANGED <<orderingVars, persistenceVars, reconfigVars, compromised, gst>>

(* The new leader, having collected q STOPDATA, sends SYNC with the value  *)
(* the collect rule allows (a free choice comes from its pending requests).*)
(* Its own entry is taken fresh: it may have decided more since it sent    *)
(* its STOPDATA (a decision needs no active regency), and it took part in  *)
(* no lower regency since, so the fresh entry is as faithful a report.     *)
(* That entry goes out with the SYNC, so it joins msgs; its cid is the     *)
(* SYNC's, since no collected entry reports a higher last decided cid.     *)
Sync(r) ==
    LET V == CurView(r)
        e == reg[r]
        own == FreshStopData(r, V, e)
        others == {m \in HonestStopData(V, e) : m.from # r}
    IN /\ ~active[r] /\ OperatingIn(r, V)
       /\ r = Leader(V, e)
       /\ ~\E m \in msgs : m.type = "SYNC" /\ m.from = r /\ m.v = V.id /\ m.e = e
       /\ \E S \in {X \in StopDataSetsFrom(V, e, others \cup {own}) : own \in X} :
            \E ch \in SyncChoices(V, S, ValidBatches(r)) :
              /\ Open(r) = ch[1]
              /\ msgs' = msgs \cup {own, SyncMsg(r, V.id, e, ch[1], ch[2], ch[3])}
       /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* r checks a SYNC of its regency, or of a higher one (it missed the       *)
(* leader change: the SYNC's q STOPDATA show that q members installed it), *)
(* enters the SYNC's regency and resumes the normal case; if the SYNC      *)
(* fixes a value for r's open cid, r writes it (a free value must be a     *)
(* valid batch for r).  A replica behind the SYNC's cid first catches up   *)
(* by state transfer.                                                      *)
Resume(r) ==
    LET V == CurView(r) IN
    /\ OperatingIn(r, V)
    /\ \E e \in reg[r]..MaxRegency :
         /\ e > reg[r] \/ ~active[r]
         /\ reg' = [reg EXCEPT ![r] = e]
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
    /\ UNCHANGED <<submitted, chain, vote, decided, persistenceVars, reconfigVars,
                   compromised, gst>>

=============================================================================
