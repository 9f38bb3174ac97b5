"""Problem names: public API.

Betty sets every problem as an attribute of the others under its name (``self.seg``,
``self.arch``, ``self.gan``) and builds hypergradient paths from the dependency graph keyed by
these problems. Code reads peers through these constants, never through literal strings.
"""

ARCH = "arch"  # top level: owns the generator's architecture weights alpha
SEG = "seg"  # middle level: owns the segmenter's weights W
GAN = "gan"  # bottom level (the leaf): owns the augmenter's weights G, e.g. a generator

ALL = (ARCH, SEG, GAN)
