------------------------------ MODULE MCOrdering ------------------------------
EXTENDS SmartChain
MCConstraint == ~gst
MCNext == OrderingNext \/ SynchronizationNext
MCSpec == Init /\ [][MCNext]_vars
=============================================================================
