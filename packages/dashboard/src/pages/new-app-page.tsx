import { navigate } from '../router.js';
import { DeployForm } from './deploy-form.js';

export function NewAppPage() {
  return (
    <>
      <h1>Deploy an app</h1>
      <div className="card">
        <DeployForm onDeployed={(appId) => navigate(`/apps/${encodeURIComponent(appId)}`)} />
      </div>
    </>
  );
}
