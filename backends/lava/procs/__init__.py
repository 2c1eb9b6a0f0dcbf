"""Custom Lava processes of the snnc Lava backend (Lava imports every module here: keep it small)."""
