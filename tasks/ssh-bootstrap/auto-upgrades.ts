// AUTO_UPGRADES=security (issue #19 item 4): Debian's unattended-upgrades installs security
// updates once a day, and never reboots the host on its own (a kernel update waits for the
// operator's reboot). Off (the default): hoist installs nothing and leaves whatever the host has.
//
// Two apt.conf.d files, hoist's own: the periodic switch (20auto-upgrades, the name Debian's
// `dpkg-reconfigure unattended-upgrades` writes) and the policy (52hoist-unattended-upgrades,
// read after the package's 50unattended-upgrades). `#clear` empties the package's origin lists
// first: its default also takes Debian's point releases (label=Debian), which are not security
// updates. Ubuntu's security pocket is listed too (reasoned, not run: no Ubuntu test host).

export const AUTO_UPGRADES_PACKAGE = 'unattended-upgrades';
export const PERIODIC_FILE = '/etc/apt/apt.conf.d/20auto-upgrades';
export const POLICY_FILE = '/etc/apt/apt.conf.d/52hoist-unattended-upgrades';

export const PERIODIC_CONTENT = ['// Managed by hoist (AUTO_UPGRADES=security): update the lists and run unattended-upgrade daily.', 'APT::Periodic::Update-Package-Lists "1";', 'APT::Periodic::Unattended-Upgrade "1";', ''].join('\n');

export const POLICY_CONTENT = [
  '// Managed by hoist (AUTO_UPGRADES=security): security updates only, and never a reboot.',
  '#clear Unattended-Upgrade::Origins-Pattern;',
  '#clear Unattended-Upgrade::Allowed-Origins;',
  'Unattended-Upgrade::Origins-Pattern {',
  '  "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";',
  '  "origin=Debian,codename=${distro_codename},label=Debian-Security";',
  '  "origin=Ubuntu,archive=${distro_codename}-security";',
  '};',
  'Unattended-Upgrade::Automatic-Reboot "false";',
  '',
].join('\n');

export const AUTO_UPGRADE_FILES = [
  { path: PERIODIC_FILE, content: PERIODIC_CONTENT },
  { path: POLICY_FILE, content: POLICY_CONTENT },
] as const;
