"""The composition root: the one place that knows every part.

`hotline.app` builds the web app from the domain (`api/`) and the channels (`accessibility/`,
`voice/`, `staff_console/`); `hotline.cli` is the operators' command line; `hotline.health`
checks each part. The domain never imports a channel; channels import the domain; only this
package imports them all (checked by the import contracts in `pyproject.toml`).
"""
