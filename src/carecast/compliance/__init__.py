"""carecast's built-in compliance checks, each a plugin on the ``carecast.hooks`` group.

- ``phi_guard``: protected health information in anything that leaves (``phi.scan`` is the
  scanner itself).
- ``advice``: "educate, don't diagnose" and safe messaging about suicide and emergencies.
- ``policy``: banned claims, sponsorship and testimonial disclosures, campaign requirements.
- ``accessibility``: alt text, video captions, CamelCase hashtags, emoji.
- ``images``: metadata stripped before upload (``images.strip_metadata``), text in images
  read by OCR and scanned for PHI, people shown without a consent reference.

Each reads its ``[checks.NAME]`` table (see ``docs/compliance/``). ``CheckConfig`` is the
base of those settings, for plugins of your own too (``examples/compliance_plugin.py``).
"""

from carecast.compliance._settings import CheckConfig, Choice, misconfigured

__all__ = ["CheckConfig", "Choice", "misconfigured"]
