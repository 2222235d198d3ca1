---------------------------- MODULE LedgerRefinement ----------------------------
(***************************************************************************)
(* The refinement mapping from SmartChain to the abstract Ledger.          *)
(*                                                                         *)
(* Commit point.  Each persistence mode says when a replica vouches for a  *)
(* block (PROTOCOL.md section 4): in memory mode once it has executed it,  *)
(* in weak and strong mode once it has synced it.  Held(r) is the chain r *)
(* vouches for: its whole chain in memory mode, its synced prefix          *)
(* otherwise.                                                              *)
(*                                                                         *)
(* The ledger.  A chain p is committed when, for every height h of p,      *)
(* at least f + 1 correct replicas vouch for p's first h blocks, f being   *)
(* that of the view that certifies block h.  This is the protocol's        *)
(* durability claim: f + 1 correct holders survive any crash pattern, and  *)
(* a recovering replica that needs f + 1 matching answers finds them.  The *)
(* mapped ledger is the longest committed chain, with the results that     *)
(* executing it gives; a committed chain is held by correct replicas, so   *)
(* by Agreement there is one longest one.                                  *)
(*                                                                         *)
(* Results.  The spec abstracts the application: a reply carries the       *)
(* block's height and the chain up to it (hash links make a block          *)
(* determine its history, Base.tla), and the result is a function of that  *)
(* prefix.  So Result(p, x) is p itself, and the client of transaction i   *)
(* told result (h, blk) maps to the reply [ClientTx(i), h, blk].           *)
(*                                                                         *)
(* Theorems (checked by TLC on the configurations MCRef*.cfg of module     *)
(* MCRefinement, with the bounds proofs/README.md gives):                  *)
(*   weak and strong mode:  Spec => LedgerSpec                             *)
(*   memory mode:           ~(Spec => LedgerStep): a crash takes back a    *)
(*                          block the ledger had committed                 *)
(***************************************************************************)
EXTENDS SmartChain

(* How much of its chain r vouches for under its mode's commit rule. *)
CommitPoint(r) == IF Mode = "memory" THEN Len(chain[r]) ELSE dur[r]
Held(r) == Prefix(chain[r], CommitPoint(r))

(* The correct replicas that vouch for chain p. *)
Holders(p) == {r \in CorrectSet : Len(Held(r)) >= Len(p) /\ Prefix(Held(r), Len(p)) = p}

(* The views that certify blocks 1..Len(p) of p, computed in one pass     *)
(* (ViewSeq(p)[h] = ViewAt(p, h)).                                         *)
RECURSIVE ViewsFrom(_, _, _)
ViewsFrom(p, h, s) == IF h > Len(p) THEN <<>> ELSE <<s>> \o ViewsFrom(p, h + 1, ApplyBlock(s, p[h], h))
ViewSeq(p) == ViewsFrom(p, 1, Genesis)

(* Every block of p is vouched for by f + 1 correct replicas. *)
Committed(p) ==
    LET vs == ViewSeq(p) IN
    \A h \in 1..Len(p) : Cardinality(Holders(Prefix(p, h))) >= F(vs[h]) + 1

(* The longest committed chain.  Candidates are the prefixes of what       *)
(* correct replicas hold; <<>> is always one and is committed.             *)
Candidates == {<<>>} \cup UNION {{Prefix(Held(r), k) : k \in 1..CommitPoint(r)} : r \in CorrectSet}
CommittedChains == {p \in Candidates : Committed(p)}
LedgerChain == CHOOSE p \in CommittedChains : \A p2 \in CommittedChains : Len(p2) <= Len(p)

(* The replies clients accepted, as Ledger replies. *)
ToldReplies == {[t |-> ClientTx(a.t), h |-> a.h, res |-> a.blk] : a \in accepted}

(* The result of request x after executing blocks p: the prefix itself. *)
PrefixResult(p, x) == p

(* The mapped ledger: the blocks of LedgerChain with their results (the    *)
(* same as Ledger's LedgerOf, which cannot be used in its own instance).   *)
LedgerBlocks ==
    LET p == LedgerChain IN
    [h \in 1..Len(p) |-> [batch |-> p[h], results |-> [x \in p[h] |-> PrefixResult(Prefix(p, h), x)]]]

L == INSTANCE Ledger WITH
        Requests <- Requests,
        ClientRequests <- ClientTxs,
        Result <- PrefixResult,
        ledger <- LedgerBlocks,
        told <- ToldReplies

-----------------------------------------------------------------------------
(* What TLC checks (named so that TLC reports violations by name). *)

(* The refinement: SmartChain's behaviours are Ledger behaviours. *)
LedgerSpec == L!Spec
(* Its two parts: the initial state maps to an empty ledger, and every     *)
(* step maps to an append, a reply, or no change of the ledger.            *)
LedgerInit == L!Init
LedgerStep == [][L!Next]_L!vars

(* The Ledger's own safety, on the mapped states. *)
LedgerTypeOK == L!TypeOK
LedgerToldInLedger == L!ToldInLedger
LedgerSafety == L!Safety

(* No two committed chains of the same length differ: the mapping is well *)
(* defined (the CHOOSE above has one candidate).                           *)
MappingDefined ==
    \A p1, p2 \in CommittedChains : Len(p1) = Len(p2) => p1 = p2

=============================================================================
