"""Integrations: what leaves the API or comes from the field (issue 12).

- `dispatch/`: activated schedules published as setpoints (MQTT), Home Assistant discovery, deviations;
- `notify/`: alerts and rule firings out (HMAC-signed webhooks with retries and dead letters, MQTT);
- `devices/`: field devices read over Modbus TCP (SunSpec where the device speaks it).

Each capability is off unless configured, and is tested against a real broker or protocol server.
"""
