"""Assets of the FLB graph (DESIGN §2), one module per stage."""
