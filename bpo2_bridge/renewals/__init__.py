"""The decision at expiry: the renewal desk's list and flags, the weekly expiry digest and the
calendar feed of expiries."""
