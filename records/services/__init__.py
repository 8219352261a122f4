"""Records business actions, one module per area: patients, schedule, smartforms, documents."""
