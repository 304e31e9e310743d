"""Runtime pieces shared by every implementation: durable storage (:mod:`.storage`) and the
fault-injecting TCP proxy (:mod:`.proxy`)."""
