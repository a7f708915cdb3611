"""How much a change matters: severity levels, the rules that assign them, and what AWS did not say."""
