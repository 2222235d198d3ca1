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
    LET p == BatchesOf(L) IN
    /\ p \in Seq(Batches)
    /\ L = LedgerOf(p)
    /\ \A h1, h2 \in 1..Len(p) : h1 # h2 => p[h1] \cap p[h2] = {}

(* A reply that the ledger supports: request t is in block h, with result  *)
(* res.                                                                    *)
Supports(L, m) ==
    /\ m.h \in 1..Len(L)
    /\ m.t \in L[m.h].batch
    /\ L[m.h].results[m.t] = m.res

-----------------------------------------------------------------------------
Init == ledger = <<>> /\ told = {}

(* The steps as relations between values: l0, t0 before, l1, t1 after.    *)
(* Blocks are appended (one or more), the blocks already there are kept.  *)
Appends(l0, l1) == Len(l1) > Len(l0) /\ Prefix(l1, Len(l0)) = l0 /\ IsLedger(l1)

(* The reply telling the client of request t the result of block h. *)
Reply(l, t, h) == [t |-> t, h |-> h, res |-> l[h].results[t]]

(* A client is told the result of a block in the ledger. *)
Tells(l, t0, t1) ==
    \E h \in 1..Len(l) : \E t \in l[h].batch \cap ClientRequests : t1 = t0 \cup {Reply(l, t, h)}

IsStep(l0, t0, l1, t1) ==
    \/ Appends(l0, l1) /\ t1 = t0
    \/ l1 = l0 /\ Tells(l0, t0, t1)

(* The same steps as actions. *)
Extend == Appends(ledger, ledger') /\ told' = told

(* The client of request t is told the result of its block h. *)
Tell(t, h) ==
    /\ t \in ClientRequests
    /\ h \in 1..Len(ledger)
    /\ t \in ledger[h].batch
    /\ ledger' = ledger
    /\ told' = told \cup {Reply(ledger, t, h)}

Next == IsStep(ledger, told, ledger', told')

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
AppendOnly == LET old == ledger
                  new == ledger'
              IN Len(new) >= Len(old) /\ Prefix(new, Len(old)) = old

(* Replies are never withdrawn. *)
ToldStays == told \subseteq told'

Safety == [][AppendOnly /\ ToldStays]_vars

THEOREM Spec => []TypeOK /\ []ToldInLedger /\ Safety

=============================================================================
