------------------------------- MODULE Ordering -------------------------------
(***************************************************************************)
(* Mod-SMaRt normal case (PROTOCOL.md section 2): a client submits, the    *)
(* leader of the regency proposes a batch for the open cid, replicas WRITE *)
(* its hash, ACCEPT (signed with their view key) on q matching WRITEs, and *)
(* decide on q matching ACCEPTs.  Deciding also executes the block: the    *)
(* replica's chain (and with it its view state) grows by one block.        *)
(***************************************************************************)
EXTENDS Network

(* r is a correct, running member that has installed the view of its open *)
(* cid V: it may take part in the ordering protocol.                       *)
OperatingIn(r, V) ==
    /\ Correct(r) /\ up[r] /\ ~left[r]
    /\ view[r] = V.id /\ r \in V.mem
Operating(r) == OperatingIn(r, CurView(r))

(* r has written some value at regency e in cid c. *)
WroteAt(r, c, e) == \E w \in wset[r][c] : w[1] = e

-----------------------------------------------------------------------------
(* A client submits transaction i (to every member). *)
Submit(i) ==
    /\ i \in Txs
    /\ ClientTx(i) \notin submitted
    /\ submitted' = submitted \cup {ClientTx(i)}
    /\ UNCHANGED <<chain, vote, wset, decided, syncVars, persistenceVars, reconfigVars, networkVars>>

(* The leader of r's regency proposes a batch of pending requests for its  *)
(* open cid, unless the SYNC of this regency already fixed that cid.       *)
Propose(r) ==
    LET V == CurView(r)
        c == Open(r)
        e == reg[r]
    IN /\ active[r] /\ OperatingIn(r, V)
       /\ r = Leader(V, e)
       /\ c <= MaxHeight
       /\ ~\E m \in msgs : m.type = "PROPOSE" /\ m.from = r /\ m.v = V.id /\ m.c = c /\ m.e = e
       /\ ~WroteAt(r, c, e)
       /\ \E b \in ValidBatches(r) : msgs' = msgs \cup {ProposeMsg(r, V.id, c, e, b)}
       /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, compromised, gst>>

(* r receives the leader's PROPOSE for its open cid, validates the batch   *)
(* and sends WRITE(hash) to all; one WRITE per regency.                    *)
Write(r) ==
    LET V == CurView(r)
        c == Open(r)
        e == reg[r]
    IN /\ active[r] /\ OperatingIn(r, V)
       /\ c <= MaxHeight
       /\ ~WroteAt(r, c, e)
       /\ \E b \in ProposalsFor(V, c, e) :
            /\ ValidBatch(r, b)
            /\ msgs' = msgs \cup {WriteMsg(r, V.id, c, e, b)}
            /\ wset' = [wset EXCEPT ![r][c] = @ \cup {<<e, b>>}]
       /\ UNCHANGED <<submitted, chain, vote, decided, syncVars, persistenceVars, reconfigVars,
                      compromised, gst>>

(* On q matching WRITEs r accepts: it logs the vote (durably, except in    *)
(* memory mode) and sends ACCEPT signed with its view key; one per regency.*)
Accept(r) ==
    LET V == CurView(r)
        c == Open(r)
        e == reg[r]
    IN /\ active[r] /\ OperatingIn(r, V)
       /\ c <= MaxHeight
       /\ vote[r][c].ts < e
       /\ \E b \in WrittenBatches(V, c, e) :
            /\ WriteQuorum(V, c, e, b)
            /\ msgs' = msgs \cup {AcceptMsg(r, V.id, c, e, b)}
            /\ vote' = [vote EXCEPT ![r][c] = [ts |-> e, b |-> b]]
            /\ wset' = [wset EXCEPT ![r][c] = @ \cup {<<e, b>>}]
       /\ UNCHANGED <<submitted, chain, decided, syncVars, persistenceVars, reconfigVars,
                      compromised, gst>>

(* On q matching ACCEPTs of any regency (a decision proof) r decides the   *)
(* batch for its open cid and executes the block.                          *)
Decide(r) ==
    LET V == CurView(r)
        c == Open(r)
    IN /\ OperatingIn(r, V)
       /\ c <= MaxHeight
       /\ \E e \in Regencies, b \in AcceptedBatches(V, c) :
            /\ AcceptQuorum(V, c, e, b)
            /\ chain' = [chain EXCEPT ![r] = Append(@, b)]
            /\ decided' = decided \cup {<<c, b>>}
       /\ UNCHANGED <<submitted, vote, wset, syncVars, persistenceVars, reconfigVars, networkVars>>

=============================================================================
