------------------------------ MODULE MCRefHistory ------------------------------
(***************************************************************************)
(* The refinement check of MCRefinement with a history variable, for       *)
(* configurations where TLC's checking of a PROPERTY is too slow.          *)
(*                                                                         *)
(* mappedBefore records the mapped Ledger state <<ledger, told>> of the    *)
(* previous state (<<>> in the initial state); it is only written, never   *)
(* read by the SmartChain steps, so it does not change their behaviours.   *)
(* The invariant RefinesByHistory then states, on each state, what         *)
(* LedgerSpec states about each step: the initial state maps to Ledger's   *)
(* initial state, and every step maps to a Ledger step (L!IsStep, the      *)
(* relation Ledger's Next is defined by) or leaves the mapped state as it  *)
(* was.  TLC checks an invariant without generating every successor of    *)
(* every state, which a PROPERTY needs.                                    *)
(***************************************************************************)
EXTENDS MCRefinement

VARIABLE mappedBefore

histVars == <<vars, mappedBefore>>

HistInit == Init /\ mappedBefore = <<>>
HistNext == Next /\ mappedBefore' = <<LedgerBlocks, ToldReplies>>

(* SmartChain's Spec, and the variant without Compromise, with the history. *)
HistSpec == HistInit /\ [][HistNext]_histVars
HistSpecNoCompromise == HistInit /\ [][HistNext /\ compromised' = compromised]_histVars

RefinesByHistory ==
    IF mappedBefore = <<>>
    THEN L!Init
    ELSE LET l0 == mappedBefore[1]
             t0 == mappedBefore[2]
         IN \/ l0 = LedgerBlocks /\ t0 = ToldReplies
            \/ L!IsStep(l0, t0, LedgerBlocks, ToldReplies)

=============================================================================
