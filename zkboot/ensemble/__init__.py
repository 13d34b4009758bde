"""Who is in the ensemble: reading a membership, asking the peers, the static guard, the dynamic
join, ``zkboot shrink``, and the set-up ``status`` and ``shrink`` share."""
