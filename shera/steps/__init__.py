"""Steps layer: She-Ra's own step kinds (``uses: <kind>``); one module per kind's ``with:`` model."""
