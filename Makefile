# Thin wrapper: each target is one of the README's commands (python -m workshop ...).
# Windows has no make: type the command after the colon instead.
PYTHON ?= python3
STEP ?=
PROJECT ?=

.PHONY: run test diff docs doctor check slides bench notebooks

run:  ## serve a step (default: the last) at http://127.0.0.1:8000/chat/
	$(PYTHON) -m workshop run $(STEP)

test:  ## set everything up and run the whole test suite
	$(PYTHON) -m workshop test

diff:  ## what changed between two steps: make diff FROM=2 TO=3
	$(PYTHON) -m workshop diff $(FROM) $(TO)

docs:  ## regenerate the READMEs' generated sections
	$(PYTHON) -m workshop docs

doctor:  ## is this machine ready for a step? make doctor STEP=3 (PROJECT=path: your folder)
	$(PYTHON) -m workshop doctor $(STEP) $(if $(PROJECT),--project "$(PROJECT)")

check:  ## run a step's tests on your folder: make check STEP=3 PROJECT=path/to/your/folder
	$(PYTHON) -m workshop check $(STEP) $(if $(PROJECT),"$(PROJECT)")

slides:  ## build the deck into slides/_build/revealjs/index.html (opens from disk)
	$(PYTHON) -m workshop slides

bench:  ## measure sync vs async, layers and servers (add ARGS=--quick for a short run)
	$(PYTHON) -m workshop bench $(ARGS)

notebooks:  ## open the notebooks in JupyterLab
	$(PYTHON) -m workshop notebooks
