---------------------------- MODULE Reconfiguration ----------------------------
(***************************************************************************)
(* Reconfiguration without a trusted administrator (PROTOCOL.md section 6).*)
(*                                                                         *)
(* JOIN, LEAVE, REMOVE and ROTATE are ordered requests; their effect is    *)
(* computed by every replica while it executes blocks (Base!ApplyBlock),   *)
(* so the view of every height is a function of the chain.  A replica      *)
(* switches to a new view (InstallView) once the block that installs it is *)
(* durable; a member that is not in the new view leaves, once the new     *)
(* view has taken over, and erases all its view keys; a continuing member *)
(* erases its old view keys                                                *)
(* (EraseKeys).  A replica that has left may later be compromised: the     *)
(* adversary then holds every view key it still has.  With Erasure = FALSE *)
(* no key is ever erased.                                                  *)
(***************************************************************************)
EXTENDS Persistence

(* r is a running correct member of the view of its open cid. *)
MemberNow(r) == Correct(r) /\ up[r] /\ ~left[r] /\ view[r] >= 0 /\ r \in CurView(r).mem

(* The adversary may submit requests signed by Byzantine members too. *)
CanRequest(r) == MemberNow(r) \/ (r \in Byzantine /\ r \in CurView(r).mem)

-----------------------------------------------------------------------------
(* A replica on the admission allow-list asks to join (signed by its       *)
(* identity key; it carries a fresh view key for the view it will join).   *)
RequestJoin(j) ==
    /\ j \in Joiners /\ Correct(j) /\ up[j]
    /\ view[j] = -1 /\ ~left[j]
    /\ JoinReq(j) \notin submitted
    /\ submitted' = submitted \cup {JoinReq(j)}
    /\ UNCHANGED <<chain, vote, wset, decided, syncVars, persistenceVars, reconfigVars, networkVars>>

(* A member asks to leave (self-signed). *)
RequestLeave(r) ==
    /\ r \in Leavers /\ MemberNow(r)
    /\ LeaveReq(r) \notin submitted
    /\ submitted' = submitted \cup {LeaveReq(r)}
    /\ UNCHANGED <<chain, vote, wset, decided, syncVars, persistenceVars, reconfigVars, networkVars>>

(* A member asks to evict member t; f + 1 distinct requests evict it. *)
RequestRemove(r, t) ==
    /\ t \in Removable /\ t # r
    /\ CanRequest(r)
    /\ t \in CurView(r).mem
    /\ RemoveReq(r, t) \notin submitted
    /\ submitted' = submitted \cup {RemoveReq(r, t)}
    /\ UNCHANGED <<chain, vote, wset, decided, syncVars, persistenceVars, reconfigVars, networkVars>>

(* Once a membership change is decided, a continuing member generates a    *)
(* fresh view key for the next view and submits ROTATE(v + 1, new key),    *)
(* signed by its identity key and its current view key.                    *)
Rotate(r) ==
    LET V == CurView(r) IN
    /\ CanRequest(r)
    /\ V.ha # 0
    /\ r \in Continuing(V)
    /\ RotateReq(r, V.id + 1) \notin submitted
    /\ submitted' = submitted \cup {RotateReq(r, V.id + 1)}
    /\ keys' = IF r \in Byzantine THEN keys ELSE [keys EXCEPT ![r] = @ \cup {V.id + 1}]
    /\ UNCHANGED <<chain, vote, wset, decided, syncVars, persistenceVars, view, left, networkVars>>

(* The height of the block of chain p that installed view vid. *)
InstallHeight(p, vid) ==
    CHOOSE h \in 1..Len(p) : ViewAfter(Prefix(p, h)).id = vid /\ ViewAfter(Prefix(p, h - 1)).id < vid

(* The members of view V (installed by block hb of p) have taken over: V   *)
(* has decided block hb + 1 (q ACCEPTs signed with V's keys), which its    *)
(* members can do only once they hold, durably, the chain up to hb.        *)
TakenOver(p, V) ==
    LET c == InstallHeight(p, V.id) + 1 IN
    \E e \in Regencies, b \in AcceptedBatches(V, c) : AcceptQuorum(V, c, e, b)

(* r switches to the view its durable blocks have installed: new members,  *)
(* keys and quorums, regency 0.  A joiner becomes a member here.  A member *)
(* that is not in the new view leaves and erases all its view keys, once   *)
(* the new view has taken over: until then it keeps serving its blocks by  *)
(* state transfer, so that leaving never takes away the last correct copy  *)
(* of a block whose result a client accepted.                              *)
InstallView(r) ==
    LET V == ViewAfter(Prefix(chain[r], dur[r])) IN
    /\ Correct(r) /\ up[r] /\ ~left[r]
    /\ V.id > view[r]
    /\ view[r] >= 0 \/ r \in V.mem
    /\ r \in V.mem \/ TakenOver(Prefix(chain[r], dur[r]), V)
    /\ view' = [view EXCEPT ![r] = V.id]
    /\ reg' = [reg EXCEPT ![r] = 0]
    /\ active' = [active EXCEPT ![r] = TRUE]
    /\ IF r \in V.mem
       THEN /\ keys' = [keys EXCEPT ![r] = @ \cup {V.id}]
            /\ UNCHANGED left
       ELSE /\ left' = [left EXCEPT ![r] = TRUE]
            /\ keys' = IF Erasure THEN [keys EXCEPT ![r] = {}] ELSE keys
    /\ UNCHANGED <<orderingVars, persistenceVars, networkVars>>

(* r erases the private keys of views older than the one it installed      *)
(* (the installing block is durable, since InstallView required it).       *)
EraseKeys(r) ==
    /\ Erasure
    /\ Correct(r) /\ up[r]
    /\ \E v \in keys[r] : v < view[r]
    /\ keys' = [keys EXCEPT ![r] = {v \in @ : v >= view[r]}]
    /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, view, left, networkVars>>

(* The adversary compromises a replica that has left: from now on it holds *)
(* the view keys r had not erased and can use r's identity.                *)
Compromise(r) ==
    /\ r \notin AdvIds
    /\ left[r]
    /\ compromised' = compromised \cup {r}
    /\ UNCHANGED <<orderingVars, syncVars, persistenceVars, reconfigVars, msgs, gst>>

=============================================================================
