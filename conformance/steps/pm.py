"""Steps of the Protocole PM 2.2 scenarios (features/pm/): written in the next commit."""
