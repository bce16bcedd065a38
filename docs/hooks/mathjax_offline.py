"""mkdocs hook: ship MathJax inside the built site, so the maths renders offline.

The script comes from the ``sphinx-mathjax-offline`` package (a test/docs
dependency), which carries MathJax 3 as package data.
"""

import importlib.metadata
import os
import shutil

SCRIPT = "tex-svg.js"  # SVG output: no web fonts needed


def _mathjax_script() -> str:
  for f in importlib.metadata.files("sphinx-mathjax-offline") or ():
    if f.name == SCRIPT and "mathjax" in f.parts:
      return str(f.locate())
  raise FileNotFoundError("MathJax's tex-svg.js not found: pip install sphinx-mathjax-offline")


def on_post_build(config, **kwargs):
  target = os.path.join(config["site_dir"], "javascripts", "mathjax")
  os.makedirs(target, exist_ok=True)
  shutil.copy(_mathjax_script(), os.path.join(target, SCRIPT))
