"""The linkage layer: identifier standardisation, probabilistic linkage (Splink), the XJS spine join, linkage QA and
privacy-preserving linkage. Personal identifiers exist only in this layer."""
