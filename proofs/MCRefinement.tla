------------------------------ MODULE MCRefinement ------------------------------
(***************************************************************************)
(* The refinement check: TLC runs the SmartChain specification (Init,      *)
(* Next of spec/SmartChain.tla, unchanged) and checks the Ledger           *)
(* specification instantiated under the mapping of LedgerRefinement as a   *)
(* PROPERTY, on the configurations MCRef*.cfg (proofs/README.md lists      *)
(* them, with the bound and the search mode of each).                      *)
(*                                                                         *)
(* What is checked on every state and step of every explored behaviour:    *)
(*  - LedgerSpec: the mapped behaviour is a behaviour of Ledger, that is   *)
(*    the mapped initial state is the empty ledger and every step appends  *)
(*    blocks, tells a client a result the ledger holds, or leaves the      *)
(*    mapped state unchanged;                                              *)
(*  - LedgerTypeOK, LedgerToldInLedger, LedgerSafety: Ledger's own         *)
(*    properties on the mapped states (implied by LedgerSpec; checked so   *)
(*    that a failure names the broken part);                               *)
(*  - MappingDefined: the longest committed chain is unique.               *)
(* The evidence configuration (memory mode) checks the two conjuncts of    *)
(* LedgerSpec by name, LedgerInit and LedgerStep, and must fail on         *)
(* LedgerStep: a crash takes back a block the ledger had committed.        *)
(* MCRefHistory checks the same with a history variable.                   *)
(***************************************************************************)
EXTENDS LedgerRefinement

(* The spec's own next-state relation and specification, by name for the  *)
(* configurations.                                                         *)
RefSpec == Spec

(* The specification without Compromise: replicas that leave stay correct. *)
(* Used where the old-key adversary is out of scope of the claim (the     *)
(* README says where and why).                                             *)
RefSpecNoCompromise == Init /\ [][Next /\ compromised' = compromised]_vars

(* The crash configurations steer the random search (ACTION_CONSTRAINT):  *)
(* a replica crashes only once the ledger holds a block, where a crash     *)
(* could take a committed block back.  Without it nearly every random      *)
(* behaviour spends its crashes before anything is decided.                *)
CrashOnlyWhenCommitted == crashes' > crashes => LedgerChain # <<>>

-----------------------------------------------------------------------------
(* Reachability witnesses.  Each is the negation of a situation the check  *)
(* must cover; a witness configuration lists it as an invariant and TLC    *)
(* must find it violated, which shows that the explored behaviours reach   *)
(* that situation (so the refinement check there is not vacuous).          *)

(* The ledger holds MaxHeight blocks and a client has been told a result, *)
(* after a correct replica moved to a later regency (leader change).       *)
NotFullAfterLeaderChange ==
    ~(/\ Len(LedgerChain) = MaxHeight /\ ToldReplies # {}
      /\ \E r \in CorrectSet : reg[r] >= 1)

(* A client has been told a result and then every correct replica crashed *)
(* at once (the full-crash pattern), and the ledger still holds it.        *)
NotToldThroughFullCrash ==
    ~(/\ ToldReplies # {} /\ crashes >= 1 /\ \A r \in CorrectSet : ~up[r]
      /\ \A m \in ToldReplies : m.h <= Len(LedgerChain))

(* The leaver has left, a correct replica has installed the new view, and *)
(* the ledger holds a block ordered by the new view.                       *)
NotPastReconfiguration ==
    ~(/\ \E r \in Leavers : left[r]
      /\ \E r \in CorrectSet : view[r] >= 1
      /\ \E h \in 1..Len(LedgerChain) : ViewAt(LedgerChain, h).id >= 1)

=============================================================================
