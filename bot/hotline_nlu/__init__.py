"""Custom Rasa graph components of the hotline: input normalisation, the emergency
keyword safety net and the handoff policy. Referenced from `config.yml` as
`hotline_nlu.components.<Class>` / `hotline_nlu.policies.<Class>` (Rasa runs with
`bot/` as the working directory, which it puts on `sys.path`)."""
