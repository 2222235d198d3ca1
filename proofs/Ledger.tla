-------------------------------- MODULE Ledger --------------------------------
(***************************************************************************)
(* The abstract ledger: what SmartChain promises its clients, with no      *)
(* replicas, messages, crashes or views in it.                             *)
(*                                                                         *)
(* The ledger is a sequence of committed blocks.  Each block holds its     *)
(* batch (a non-empty set of requests) and the result of every request in *)
(* it.  The application is deterministic, so a result is a function of     *)
(* the blocks executed so far: Result(p, x) is what request x gets when    *)
(* the application executes the batch sequence p, x being in p's last      *)
(* batch.  The ledger only grows by appending blocks; a block, once in the *)
(* ledger, is never rewritten or removed, and no request is committed      *)
(* twice.                                                                  *)
(*                                                                         *)
(* told is what clients have been told is committed: a set of replies      *)
(* [t, h, res] saying that request t is in block h with result res.  A     *)
(* reply is only given for a block already in the ledger, and it stays     *)
(* true because the ledger is never rewritten.                             *)
(*                                                                         *)
(* Next is written as a relation between two states (Extend checks the new *)
(* ledger rather than building it) so that TLC can evaluate it on the      *)
(* steps of an implementation whose set of possible batches is far too    *)
(* large to enumerate.  MCLedger runs this module on its own with a        *)
(* generator for the steps.                                                *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Requests,        \* every request that can be ordered
    ClientRequests,  \* the requests whose clients are told a result (a subset of Requests)
    Result(_, _)     \* Result(p, x): the result of request x when blocks p are executed in order

ASSUME ClientRequests \subseteq Requests

VARIABLES
    ledger,  \* the committed blocks: a sequence of [batch, results]
    told     \* the replies clients have accepted: a set of [t, h, res]

vars == <<ledger, told>>

-----------------------------------------------------------------------------
Batches == (SUBSET Requests) \ {{}}
Prefix(s, n) == SubSeq(s, 1, n)

(* The batch sequence of a ledger. *)
BatchesOf(L) == [h \in 1..Len(L) |-> L[h].batch]

(* Block h of batch sequence p: its batch and the results of executing     *)
(* blocks 1..h.                                                            *)
BlockOf(p, h) == [batch |-> p[h], results |-> [x \in p[h] |-> Result(Prefix(p, h), x)]]

(* The ledger that consists of batch sequence p. *)
LedgerOf(p) == [h \in 1..Len(p) |-> BlockOf(p, h)]

(* L is a ledger: every block has a non-empty batch of requests, the       *)
(* results that executing the ledger up to it gives, and no request is in  *)
(* two blocks.                                                             *)
IsLedger(L) ==
    /\ BatchesOf(L) \in Seq(Batches)
    /\ L = LedgerOf(BatchesOf(L))
    /\ \A h1, h2 \in 1..Len(L) : h1 # h2 => L[h1].batch \cap L[h2].batch = {}

(* A reply that the ledger supports: request t is in block h, with result  *)
(* res.                                                                    *)
Supports(L, m) ==
    /\ m.h \in 1..Len(L)
    /\ m.t \in L[m.h].batch
    /\ L[m.h].results[m.t] = m.res

-----------------------------------------------------------------------------
Init == ledger = <<>> /\ told = {}

(* One or more blocks are appended; the blocks already there are kept.     *)
Extend ==
    /\ Len(ledger') > Len(ledger)
    /\ Prefix(ledger', Len(ledger)) = ledger
    /\ IsLedger(ledger')
    /\ told' = told

(* The client of request t is told the result of its block h. *)
Tell(t, h) ==
    /\ t \in ClientRequests
    /\ h \in 1..Len(ledger)
    /\ t \in ledger[h].batch
    /\ told' = told \cup {[t |-> t, h |-> h, res |-> ledger[h].results[t]]}
    /\ ledger' = ledger

Next ==
    \/ Extend
    \/ \E h \in 1..Len(ledger) : \E t \in ledger[h].batch \cap ClientRequests : Tell(t, h)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Safety of the ledger. *)

TypeOK ==
    /\ IsLedger(ledger)
    /\ \A m \in told : m.t \in ClientRequests /\ m.h \in Nat \ {0}

(* Every reply a client accepted is in the ledger, with the result the     *)
(* client was told; so the told heights form part of the ledger's prefix.  *)
ToldInLedger == \A m \in told : Supports(ledger, m)

(* The ledger only grows by appending: what was there stays, unchanged.    *)
AppendOnly == Len(ledger') >= Len(ledger) /\ Prefix(ledger', Len(ledger)) = ledger

(* Replies are never withdrawn. *)
ToldStays == told \subseteq told'

Safety == [][AppendOnly /\ ToldStays]_vars

THEOREM Spec => []TypeOK /\ []ToldInLedger /\ Safety

=============================================================================
