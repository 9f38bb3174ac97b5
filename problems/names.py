"""Problem names: public API.

Betty sets every problem as an attribute of the others under its name (``self.seg``,
``self.arch``, ``self.aug``) and builds hypergradient paths from the dependency graph keyed by
these problems. Code reads peers through these constants, never through literal strings.
"""

ARCH = "arch"  # top level: owns the augmenter's architecture weights alpha
SEG = "seg"  # middle level: owns the segmenter's weights W
AUG = "aug"  # bottom level (the leaf): owns the augmenter's weights, e.g. a generator's

ALL = (ARCH, SEG, AUG)
