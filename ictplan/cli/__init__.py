"""The ``ictplan`` command: a click group (``_main``) and one module per subcommand.

A subcommand module does ``from ictplan.cli._main import cli, study_arg, out_opt,
overwrite_opt, echo, out_dir`` and decorates its function with ``@cli.command()``; every
public module of this package is imported when the command runs. Library functions do
the work; these modules only parse arguments and print. Analyses run through
:func:`ictplan.workflow.run` (``._run.run_job`` / ``run_jobs``): flags default to None and
override the study's ``[parameters]``, and a job that cannot run says why.
"""

from ._main import cli, main

__all__ = ["cli", "main"]
