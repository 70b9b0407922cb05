-- The built-in package feed (design/deployments.md §6): one row per package version of a space;
-- the file lives in the shared Packages folder under `rel_path` (a name of its own per upload, so a
-- replacement is renamed into place beside the old file and the old one removed after commit).

CREATE TABLE packages (
  space_id       text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  -- Octopus's id: `packages-<PackageId>.<Version>`.
  id             text NOT NULL,
  package_id     text NOT NULL,
  version        text NOT NULL,
  -- Sorts byte-wise in SemVer order (see src/packages/names.ts): "latest" is the greatest.
  version_sort   text COLLATE "C" NOT NULL,
  file_extension text NOT NULL,
  size           bigint NOT NULL,
  hash           text NOT NULL,
  rel_path       text NOT NULL UNIQUE,
  published      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (space_id, id)
);
CREATE UNIQUE INDEX packages_version ON packages (space_id, lower(package_id), lower(version));
CREATE INDEX packages_latest ON packages (space_id, lower(package_id), version_sort DESC);

-- Build information pushed for a package version (it may arrive before or after the package).
CREATE TABLE build_information (
  space_id   text NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  id         text NOT NULL,
  package_id text NOT NULL,
  version    text NOT NULL,
  doc        jsonb NOT NULL,
  created    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (space_id, id)
);
CREATE UNIQUE INDEX build_information_version ON build_information (space_id, lower(package_id), lower(version));
