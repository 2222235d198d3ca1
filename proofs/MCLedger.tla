------------------------------- MODULE MCLedger -------------------------------
(***************************************************************************)
(* Ledger on its own, with three requests and ledgers of up to three       *)
(* blocks.  Ledger!Next checks a step rather than building one, so this    *)
(* model drives the ledger with a generator (GenNext) of every step that   *)
(* appends at most two blocks over the small universe, or tells a client.  *)
(* TLC checks that each generated step is a step of Ledger (PROPERTY       *)
(* LedgerSpec) and that the ledger's safety properties hold.  MCLedgerBad  *)
(* adds a step that rewrites a block and must be rejected.                 *)
(***************************************************************************)
EXTENDS Ledger

MaxLen == 3
MaxAppend == 2
Min2(a, b) == IF a <= b THEN a ELSE b

(* A deterministic application: the result of x is the height of its      *)
(* block and the number of requests executed before it.                    *)
MCResult(p, x) == <<Len(p), Cardinality(UNION {p[i] : i \in 1..(Len(p) - 1)})>>

(* Append n blocks whose batches are disjoint from each other and from the *)
(* ledger's.                                                               *)
GenExtend ==
    \E n \in 1..Min2(MaxAppend, MaxLen - Len(ledger)) :
       \E bs \in [1..n -> Batches] :
          LET p == BatchesOf(ledger) \o bs IN
          /\ \A i, j \in 1..Len(p) : i # j => p[i] \cap p[j] = {}
          /\ ledger' = LedgerOf(p)
          /\ told' = told

GenNext ==
    \/ GenExtend
    \/ \E h \in 1..Len(ledger) : \E t \in ledger[h].batch \cap ClientRequests : Tell(t, h)

GenSpec == Init /\ [][GenNext]_vars

(* A wrong step: the last block is replaced by another batch. *)
Rewrite ==
    /\ ledger # <<>>
    /\ \E b \in Batches :
         /\ b # ledger[Len(ledger)].batch
         /\ ledger' = LedgerOf([BatchesOf(ledger) EXCEPT ![Len(ledger)] = b])
         /\ IsLedger(ledger')
    /\ told' = told

BadSpec == Init /\ [][GenNext \/ Rewrite]_vars

(* Names for the cfg and for the harness. *)
LedgerSpec == Spec
LedgerSafety == Safety
LedgerStep == [][Next]_vars
=============================================================================
