"""Edge-agent sources: one module per protocol (OPC UA, MQTT devices)."""
