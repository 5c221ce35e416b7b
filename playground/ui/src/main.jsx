import './workers.js';
import 'graphiql/style.css';
import './page.css';

import { GraphiQL } from 'graphiql';
import { createRoot } from 'react-dom/client';

import { fetcher } from './fetcher.js';
import { headersTemplate, startingQuery, startingVariables } from './starting-document.js';
import { secretFreeStorage } from './storage.js';

const storage = secretFreeStorage();
// GraphiQL fills the variables editor from initialVariables only, not from
// the starting tab; on later visits the stored tabs come back, with the
// variables they never kept.
const firstVisit = storage.getItem('graphiql:tabState') === null;

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    storage={storage}
    initialVariables={firstVisit ? startingVariables : undefined}
    shouldPersistHeaders={false}
    defaultQuery={startingQuery}
    defaultHeaders={headersTemplate}
    defaultTabs={[{ query: startingQuery, variables: startingVariables, headers: headersTemplate }]}
    defaultEditorToolsVisibility
  />,
);
