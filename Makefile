# Thin wrapper over the npm scripts, for people who type `make`.
#   make release HOSTS=web1,web2 DRY_RUN=1
HOSTS ?=
DRY_RUN ?=
ARGS := $(if $(HOSTS),--hosts $(HOSTS)) $(if $(DRY_RUN),--dry-run) $(EXTRA)

.PHONY: bootstrap release rollback plan cron test typecheck

bootstrap:
	npm run --silent pipeline:bootstrap -- $(ARGS)
release:
	npm run --silent pipeline:release -- $(ARGS)
rollback:
	npm run --silent pipeline:rollback -- $(ARGS)
plan:
	npm run --silent pipeline:plan -- $(ARGS)
cron:
	npm run --silent pipeline:cron -- $(ARGS)
test:
	npm test
typecheck:
	npm run --silent typecheck
