"""seqconv: convolutional models of transcription-factor binding on DNA.

Conventions used everywhere in the package
------------------------------------------
* one-hot DNA is ``X : (N, 4, L)`` with channels in A, C, G, T order
  (uint8/int8 at rest, float32 per batch);
* labels are ``y : (N, T)``, one column per TF;
* motifs (PWMs, PFMs) are ``(L, 4)`` arrays, columns A, C, G, T.

Importing seqconv before torch sets ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a wait
policy: see :mod:`seqconv.threads`.
"""

__version__ = "0.1.0"

from seqconv.threads import apply_wait_policy  # noqa: E402  (before anything imports torch)

apply_wait_policy()

from seqconv import encode  # noqa: E402,F401
