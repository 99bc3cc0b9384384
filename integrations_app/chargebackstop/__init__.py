"""ChargebackStop (chargeback prevention): integrations per organisation, and CUSTOM_ORDERS management."""
