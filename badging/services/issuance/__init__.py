"""Issuing awards exactly once, rendering and signing their documents, revoking them.

- issue: issuing a batch of learners exactly once (the award rows, their deliveries)
- documents: the signed OB 3.0 credential, baked images, status slots and status lists
- issuer_keys: the issuers' signing keys
- recipients: each learner's primary email, read for issuing
- queueing: queueing eligible learners, and the reconciler that queues lost work again
- review: revoking, and reviewing awards flagged after a learner's results changed
- policy: leases and retry timing shared by issuing, delivering and reconciling
"""
